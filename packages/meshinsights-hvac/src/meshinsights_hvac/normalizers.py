"""PowerDataNormalizer: raw power telemetry -> the ``hvac_power`` dataset (section 1).

Pure and deterministic. Accepts W or kW, thermostat call codes (Y1/Y2/W1/W2/G,
combined like ``G+Y1``), normalized stage names or numeric 0/1/2 codes with a
cool/heat mode, naive timestamps in a configured zone, duplicated and
unordered rows. What it cannot make sense of fails the device with an error
naming the column; rows it can drop are dropped and counted.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from meshinsights.errors import NormalizationError
from meshinsights.normalizer import DataNormalizer
from meshinsights_hvac.algorithms.cycles import gap_limit_ns, row_cycle_ids, segment_cycles
from meshinsights_hvac.algorithms.frames import build_frame
from meshinsights_hvac.algorithms.stages import categorical
from meshinsights_hvac.algorithms.text import factorize_text
from meshinsights_hvac.algorithms.timeutil import (
    NS_PER_S,
    sampling_interval_ns,
    ts_ns,
    utc_array,
)
from meshinsights_hvac.params import STAGES, HVACParams
from meshinsights_hvac.schemas import HVAC_POWER_SCHEMA

_CODE = {name: i for i, name in enumerate(STAGES)}
#: Thermostat terminals and common spellings -> normalized stage.
_TOKENS: dict[str, str] = {
    "OFF": "off", "NONE": "off", "IDLE": "off", "O": "off",
    "G": "fan", "FAN": "fan",
    "Y": "cool1", "Y1": "cool1", "COOL1": "cool1",
    "Y2": "cool2", "COOL2": "cool2",
    "W": "heat1", "W1": "heat1", "HEAT1": "heat1",
    "W2": "heat2", "HEAT2": "heat2",
    "W3": "aux", "E": "aux", "EM": "aux", "AUX": "aux",
}
_SPLIT = re.compile(r"[+,/;|&\s]+")
_POWER_FALLBACKS = ("power_w", "power_kw", "PowerW", "PowerKW", "power")
_UNITS = {"w": 0.001, "watt": 0.001, "watts": 0.001, "kw": 1.0, "kilowatt": 1.0,
          "kilowatts": 1.0}
_NUMERIC = -2  # marker: a numeric code that needs the mode
#: The dtype "str" names, resolved once (comparing a dtype with the name parses it each time).
_STR = pd.api.types.pandas_dtype("str")


def _token_stage(code: str) -> int:
    """Stage code of one text code, _NUMERIC for '0'/'1'/'2', -1 when unknown."""
    text = code.strip()
    if text.lower() in _CODE:
        return _CODE[text.lower()]
    if re.fullmatch(r"[0-9]+(\.0+)?", text):
        return _NUMERIC
    tokens = [t for t in _SPLIT.split(text.upper()) if t]
    if not tokens:
        return _CODE["off"]
    stages = [_TOKENS.get(t) for t in tokens]
    if any(s is None for s in stages):
        return -1
    cooling = any(s in ("cool1", "cool2") for s in stages)
    heating = any(s in ("heat1", "heat2", "aux") for s in stages)
    if cooling and heating:
        return -1
    return max(_CODE[s] for s in stages if s is not None)


class PowerDataNormalizer(DataNormalizer):
    """Normalize one device's raw power frame (see the module docstring)."""

    required_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        params: HVACParams | None = None,
        *,
        power_unit: str | None = None,
        timezone: str | None = None,
        mode: str | None = None,
    ) -> None:
        self.params = params or HVACParams()
        self.power_unit = power_unit
        self.timezone = timezone
        self.mode = mode.strip().lower() if isinstance(mode, str) else mode
        if self.mode not in (None, "cool", "heat"):
            raise ValueError(f"mode must be 'cool' or 'heat', got {mode!r}")
        if power_unit is not None and power_unit.strip().lower() not in _UNITS:
            raise ValueError(f"power_unit must be 'W' or 'kW', got {power_unit!r}")

    def get_schema(self) -> Any:
        return HVAC_POWER_SCHEMA

    # ------------------------------------------------------------------ transform
    def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
        meta: dict[str, Any] = metadata if metadata is not None else {}
        source = self.params.source
        if source.timestamp not in data.columns:
            raise NormalizationError(
                f"no timestamp column {source.timestamp!r} "
                f"(columns present: {', '.join(map(str, data.columns)) or 'none'})"
            )
        power_column = self._power_column(data)
        dropped: dict[str, int] = {}

        ts, ts_missing = self._timestamps(data[source.timestamp], source.timestamp)
        power = self._power(data[power_column], power_column, meta)
        stage_column = data[source.stage] if source.stage in data.columns else None
        stage_missing = None if stage_column is None else _missing(stage_column)
        has_stage = stage_missing is not None and not stage_missing.all()
        meta["stage_source"] = "column" if has_stage else "inferred from power"

        keep = ~ts_missing
        dropped["timestamp_missing"] = int(ts_missing.sum())
        nan = np.isnan(power) & keep
        dropped["power_missing"] = int(nan.sum())
        keep &= ~nan
        infinite = np.isinf(power) & keep
        dropped["power_not_finite"] = int(infinite.sum())
        keep &= ~infinite
        negative = (power < -self.params.negative_tolerance_kw) & keep
        dropped["power_negative"] = int(negative.sum())
        keep &= ~negative
        clipped = (power < 0) & keep
        meta["clipped_negative"] = int(clipped.sum())
        power = np.where(clipped, 0.0, power)

        if has_stage:
            assert stage_column is not None and stage_missing is not None
            codes = self._stage_codes(data, source.stage, stage_column, stage_missing)
            missing_stage = (codes < 0) & keep
            dropped["stage_missing"] = int(missing_stage.sum())
            keep &= ~missing_stage
        else:
            on = _CODE[self.params.default_on_stage]
            with np.errstate(invalid="ignore"):
                codes = np.where(power > self.params.on_threshold_kw, on, _CODE["off"])
            codes = codes.astype(np.int8)
            dropped["stage_missing"] = 0

        # Each copy below is skipped when it would copy everything in the same order
        # (rows all kept, already in time order, no repeated timestamp: the usual case).
        if not keep.all():
            ts, power, codes = ts[keep], power[keep], codes[keep]
        if len(ts) > 1 and not (ts[1:] >= ts[:-1]).all():
            order = np.argsort(ts, kind="stable")
            ts, power, codes = ts[order], power[order], codes[order]
        last = np.ones(len(ts), dtype=bool)
        if len(ts) > 1:
            last[:-1] = ts[1:] != ts[:-1]
        dropped["duplicate_timestamp"] = int(len(last) - np.count_nonzero(last))
        if dropped["duplicate_timestamp"]:
            ts, power, codes = ts[last], power[last], codes[last]

        interval = sampling_interval_ns(ts)
        cycle_no = segment_cycles(ts, codes, gap_limit_ns(interval, self.params.max_gap_factor))
        meta["rows_dropped"] = dropped
        meta["sampling_interval_s"] = None if interval is None else interval / NS_PER_S
        meta["n_cycles"] = int(cycle_no.max()) + 1 if len(cycle_no) and cycle_no.max() >= 0 else 0
        # Fresh arrays, one block each (pd.DataFrame would copy and check them again).
        return build_frame(
            {
                "timestamp": utc_array(ts, "us"),
                "power_kw": power.astype(np.float64),
                "stage": categorical(codes, validate=False),  # stage codes by construction
                "cycle_id": row_cycle_ids(cycle_no, codes).array,
            }
        )

    # ------------------------------------------------------------------ columns
    def _power_column(self, data: pd.DataFrame) -> str:
        configured = self.params.source.power
        for name in (configured, *_POWER_FALLBACKS):
            if name in data.columns:
                return name
        raise NormalizationError(
            f"no power column {configured!r} (also looked for "
            f"{', '.join(map(repr, _POWER_FALLBACKS))}; columns present: "
            f"{', '.join(map(str, data.columns)) or 'none'})"
        )

    def _unit_factor(self, column: str) -> tuple[str, float]:
        if self.power_unit is not None:
            unit = self.power_unit.strip().lower()
            return ("kW" if _UNITS[unit] == 1.0 else "W"), _UNITS[unit]
        name = column.lower()
        if name.endswith("kw"):
            return "kW", 1.0
        if name.endswith(("w", "watts")):
            return "W", 0.001
        raise NormalizationError(
            f"column {column!r}: cannot tell whether power is in W or kW from its name; "
            "set the device parameter power_unit to 'W' or 'kW'"
        )

    def _power(self, column: pd.Series, name: str, meta: dict[str, Any]) -> np.ndarray:
        unit, factor = self._unit_factor(name)
        try:
            if column.dtype == np.float64:  # the usual case: nothing to convert
                power = column.to_numpy(dtype=np.float64)
            else:
                power = np.asarray(pd.to_numeric(column, errors="coerce"), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise NormalizationError(f"column {name!r}: power values are not numbers ({exc})") from None
        meta["power_unit"] = unit
        meta["unit_conversion"] = f"{unit} -> kW (x{factor:g})"
        return power * factor if factor != 1.0 else power

    def _timestamps(self, column: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
        """int64 ns UTC and a mask of missing values; unparseable values are an error."""
        dtype = column.dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            # Aware datetimes are stored as UTC instants: read them as they are.
            array = column.array
            nat = np.asarray(array.isna(), dtype=bool)
            return np.where(nat, 0, ts_ns(array)), nat
        missing = np.asarray(column.isna(), dtype=bool)
        if pd.api.types.is_datetime64_dtype(dtype):
            parsed = self._localize(column, name)
        elif pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise NormalizationError(
                f"column {name!r}: timestamps are numbers ({dtype}); expected datetimes or "
                "ISO 8601 text"
            )
        else:
            parsed = self._parse_text(column, name)
        nat = np.asarray(parsed.isna(), dtype=bool)
        bad = nat & ~missing
        if bad.any():
            example = column[bad].iloc[0]
            raise NormalizationError(
                f"column {name!r}: {int(bad.sum())} timestamp(s) could not be parsed "
                f"(e.g. {example!r})"
            )
        values = ts_ns(parsed.dt.tz_convert("UTC"))
        return np.where(nat, 0, values), nat

    def _parse_text(self, column: pd.Series, name: str) -> pd.Series:
        text = column.astype(object).where(column.notna(), None)
        utc = self.timezone is None
        try:
            parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=utc)
            if parsed.isna().sum() > text.isna().sum():
                parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=utc)
        except (TypeError, ValueError, OverflowError) as exc:
            raise NormalizationError(f"column {name!r}: timestamps could not be parsed ({exc})") from None
        if not isinstance(parsed.dtype, (pd.DatetimeTZDtype, np.dtype)) or (
            not pd.api.types.is_datetime64_any_dtype(parsed.dtype)
        ):
            raise NormalizationError(
                f"column {name!r}: timestamps mix UTC offsets and local times; "
                "give all with an offset or all local with the timezone parameter"
            )
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            return parsed.dt.tz_convert("UTC")
        return self._localize(parsed, name)

    def _localize(self, column: pd.Series, name: str) -> pd.Series:
        if self.timezone is None:
            utc: pd.Series = column.dt.tz_localize("UTC")
            return utc
        try:
            local: pd.Series = column.dt.tz_localize(
                self.timezone, ambiguous="NaT", nonexistent="NaT")
            return local
        except Exception as exc:  # noqa: BLE001 - unknown zone names and the like
            raise NormalizationError(
                f"column {name!r}: cannot localize naive timestamps to {self.timezone!r} ({exc})"
            ) from None

    # ------------------------------------------------------------------ stages
    def _stage_codes(
        self, data: pd.DataFrame, name: str, column: pd.Series, missing: np.ndarray
    ) -> np.ndarray:
        """int8 stage codes per row of ``column`` (``data[name]``); -1 where the stage is missing."""
        if pd.api.types.is_bool_dtype(column.dtype):
            raise NormalizationError(f"column {name!r}: stage codes are true/false, not a stage")
        if pd.api.types.is_numeric_dtype(column.dtype):
            numbers = np.asarray(pd.to_numeric(column, errors="coerce"), dtype=np.float64)
            codes = self._numeric_codes(data, name, numbers, missing)
            return np.where(missing, -1, codes).astype(np.int8)
        # One hash pass: each distinct value once (a handful), then a lookup per row.
        text = column if column.dtype == _STR else column.astype("str")
        position, uniques = factorize_text(text.array)
        position = np.where(missing, -1, position)
        mapped = np.array([_token_stage(str(u)) for u in uniques], dtype=np.int8)
        seen = np.zeros(len(uniques), dtype=bool)
        seen[position[position >= 0]] = True
        unknown = [str(u) for u, m, s in zip(uniques, mapped, seen, strict=True) if m == -1 and s]
        if unknown:
            raise NormalizationError(
                f"column {name!r}: unknown stage code(s) {', '.join(map(repr, unknown[:5]))} "
                "(known: OFF, G, Y1, Y2, W1, W2, W3/AUX, their combinations like G+Y1, "
                f"{', '.join(STAGES)}, or 0/1/2 with a cool/heat mode)"
            )
        codes = np.append(mapped, np.int8(-1))[position]  # position -1 (missing) -> -1
        numeric = codes == _NUMERIC
        if numeric.any():
            parsed = np.asarray(pd.to_numeric(text.where(numeric, None), errors="coerce"),
                                dtype=np.float64)
            codes = np.where(
                numeric,
                self._numeric_codes(data, name, parsed, ~numeric),
                codes,
            ).astype(np.int8)
        return codes

    def _numeric_codes(
        self, data: pd.DataFrame, name: str, numbers: np.ndarray, ignore: np.ndarray
    ) -> np.ndarray:
        """0 -> off; 1/2 -> first/second stage of the row's mode (cool or heat)."""
        check = ~ignore
        valid = np.isin(numbers, (0.0, 1.0, 2.0))
        if (check & ~valid).any():
            bad = ", ".join(f"{b:g}" for b in pd.unique(numbers[check & ~valid])[:5])
            raise NormalizationError(
                f"column {name!r}: unknown numeric stage code(s) {bad} "
                "(expected 0, 1 or 2)"
            )
        base = self._mode_base(data, name, check & (numbers > 0))
        numbers = np.where(valid, numbers, 0).astype(np.int64)
        return np.where(numbers == 0, _CODE["off"], base + numbers - 1).astype(np.int8)

    def _mode_base(self, data: pd.DataFrame, name: str, needed: np.ndarray) -> np.ndarray:
        cool, heat = _CODE["cool1"], _CODE["heat1"]
        column = self.params.source.mode
        if column and column in data.columns:
            mode = data[column].astype("str").str.strip().str.lower().to_numpy(dtype=object)
            is_cool = mode == "cool"
            is_heat = mode == "heat"
            if (needed & ~(is_cool | is_heat)).any():
                raise NormalizationError(
                    f"column {column!r}: numeric stage codes in {name!r} need a mode of "
                    "'cool' or 'heat' on every running row"
                )
            return np.where(is_heat, heat, cool).astype(np.int64)
        if self.mode is None:
            if needed.any():
                raise NormalizationError(
                    f"column {name!r}: numeric stage codes need a mode: set the device "
                    "parameter mode to 'cool' or 'heat', or configure hvac.source.mode"
                )
            return np.full(len(needed), cool, dtype=np.int64)
        return np.full(len(needed), cool if self.mode == "cool" else heat, dtype=np.int64)


def _missing(column: pd.Series) -> np.ndarray:
    """``column.isna()`` as a numpy mask, read from the stored array (no Series built)."""
    return np.asarray(column.array.isna(), dtype=bool)

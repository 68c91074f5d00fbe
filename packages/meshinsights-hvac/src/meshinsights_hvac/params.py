"""HVACParams: every threshold of the HVAC analysis, with its documented default.

One frozen attrs class so that a run (``[hvac]`` table) and a device
(``DeviceUnit.parameters["hvac"]``) override the same names, and so that bad
values are caught before any device is fetched. Values from a devices CSV
arrive as text, so numbers written as strings are accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

#: Stages a cycle can have (section 2); ``off`` and ``fan`` never form cycles.
CYCLE_STAGES: tuple[str, ...] = ("cool1", "cool2", "heat1", "heat2", "aux")
#: Every normalized stage, in code order (the category order of the ``stage`` column).
STAGES: tuple[str, ...] = ("off", "fan", *CYCLE_STAGES)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class HVACParamsError(ValueError):
    """An HVAC parameter is unknown or has a bad value; the message names the key."""


def _identifier(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None and attribute.name == "mode":
        return
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise HVACParamsError(
            f"hvac.source.{attribute.name}: {value!r} is not a plain identifier "
            "(letters, digits and underscores, not starting with a digit)"
        )


@attrs.frozen(kw_only=True)
class PowerSource:
    """Where the power telemetry lives: table and column names (``[hvac.source]``).

    Only plain identifiers are allowed, because these names are the one part
    of a query that cannot travel as a parameter.
    """

    table: str = attrs.field(default="power", validator=_identifier)
    location_id: str = attrs.field(default="location_id", validator=_identifier)
    control_id: str = attrs.field(default="control_id", validator=_identifier)
    timestamp: str = attrs.field(default="timestamp", validator=_identifier)
    power: str = attrs.field(default="power_w", validator=_identifier)
    stage: str = attrs.field(default="stage", validator=_identifier)
    #: Optional column holding ``cool``/``heat`` for numeric stage codes.
    mode: str | None = attrs.field(default=None, validator=_identifier)

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns a query selects, in order."""
        base = (self.location_id, self.control_id, self.timestamp, self.power, self.stage)
        return (*base, self.mode) if self.mode else base


def _number(kind: type, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None) -> Any:
    """An attrs field validator/converter pair for a bounded number."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HVACParamsError(f"hvac.{attribute.name}: expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise HVACParamsError(f"hvac.{attribute.name}: must be finite, got {value!r}")
        if kind is int and not float(value).is_integer():
            raise HVACParamsError(f"hvac.{attribute.name}: expected a whole number, got {value!r}")
        if ge is not None and value < ge:
            raise HVACParamsError(f"hvac.{attribute.name}: must be >= {ge}, got {value!r}")
        if gt is not None and value <= gt:
            raise HVACParamsError(f"hvac.{attribute.name}: must be > {gt}, got {value!r}")
        if le is not None and value > le:
            raise HVACParamsError(f"hvac.{attribute.name}: must be <= {le}, got {value!r}")

    return check


def _stage(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in CYCLE_STAGES:
        raise HVACParamsError(
            f"hvac.{attribute.name}: {value!r} is not one of {', '.join(CYCLE_STAGES)}"
        )


@attrs.frozen(kw_only=True)
class HVACParams:
    """Defaults from the HVAC algorithms contract; see the package README for each one."""

    # Cycles (section 2) and filtering (3.1)
    max_gap_factor: float = attrs.field(default=2.5, validator=_number(float, ge=1.0))
    trim_start_s: float = attrs.field(default=120.0, validator=_number(float, ge=0))
    trim_end_s: float = attrs.field(default=60.0, validator=_number(float, ge=0))
    min_cycle_minutes: float = attrs.field(default=5.0, validator=_number(float, ge=0))
    min_samples_per_cycle: int = attrs.field(default=3, validator=_number(int, ge=1))
    on_threshold_kw: float = attrs.field(default=0.2, validator=_number(float, ge=0))
    short_cycle_minutes: float = attrs.field(default=3.0, validator=_number(float, ge=0))
    min_off_minutes: float = attrs.field(default=5.0, validator=_number(float, ge=0))
    # Sufficiency (3.2)
    min_cycles_per_stage: int = attrs.field(default=5, validator=_number(int, ge=1))
    min_samples_per_stage: int = attrs.field(default=20, validator=_number(int, ge=1))
    min_coverage: float = attrs.field(default=0.9, validator=_number(float, ge=0, le=1))
    # Variance classes (3.3, 3.5)
    within_cycle_stable_cv: float = attrs.field(default=0.03, validator=_number(float, ge=0))
    within_cycle_moderate_cv: float = attrs.field(default=0.08, validator=_number(float, ge=0))
    cycle_median_stable_cv: float = attrs.field(default=0.07, validator=_number(float, ge=0))
    cycle_median_moderate_cv: float = attrs.field(default=0.15, validator=_number(float, ge=0))
    outlier_z: float = attrs.field(default=3.5, validator=_number(float, gt=0))
    # Baseline band (3.6)
    band_mad_multiplier: float = attrs.field(default=3.0, validator=_number(float, ge=0))
    band_min_fraction: float = attrs.field(default=0.15, validator=_number(float, ge=0))
    band_min_kw: float = attrs.field(default=0.1, validator=_number(float, ge=0))
    # Issues (section 4)
    no_power_min_cycles: int = attrs.field(default=2, validator=_number(int, ge=1))
    short_cycle_max_per_day: float = attrs.field(default=10.0, validator=_number(float, ge=0))
    max_calls_per_hour: int = attrs.field(default=5, validator=_number(int, ge=1))
    out_of_band_min_cycles: int = attrs.field(default=3, validator=_number(int, ge=1))
    out_of_band_max_fraction: float = attrs.field(default=0.2, validator=_number(float, ge=0, le=1))
    # Normalization (section 1)
    default_on_stage: str = attrs.field(default="cool1", validator=_stage)
    negative_tolerance_kw: float = attrs.field(default=0.05, validator=_number(float, ge=0))
    source: PowerSource = attrs.field(factory=PowerSource)

    def __attrs_post_init__(self) -> None:
        pairs = (("within_cycle_stable_cv", "within_cycle_moderate_cv"),
                 ("cycle_median_stable_cv", "cycle_median_moderate_cv"))
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise HVACParamsError(f"hvac.{low} must not exceed hvac.{high}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> HVACParams:
        """Build from a run config / device table; unknown keys and bad values name the key."""
        if mapping is None:
            return cls()
        if isinstance(mapping, HVACParams):
            return mapping
        if not isinstance(mapping, Mapping):
            raise HVACParamsError(f"hvac: expected a table of parameters, got {type(mapping).__name__}")
        fields = attrs.fields_dict(cls)
        unknown = sorted(str(k) for k in mapping if k not in fields)
        if unknown:
            raise HVACParamsError(
                f"hvac: unknown parameter(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(sorted(fields))})"
            )
        values: dict[str, Any] = {}
        for key, value in mapping.items():
            if key == "source":
                values[key] = _source(value)
            elif key == "default_on_stage":
                values[key] = value.strip().lower() if isinstance(value, str) else value
            else:
                values[key] = _from_text(key, value, fields[key].default)
        try:
            return cls(**values)
        except TypeError as exc:  # pragma: no cover - every field has a default
            raise HVACParamsError(f"hvac: {exc}") from None


def _from_text(key: str, value: Any, default: Any) -> Any:
    """Numbers given as strings (devices CSV cells) become numbers of the default's kind."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        raise HVACParamsError(f"hvac.{key}: expected a number, got {value!r}") from None
    if isinstance(default, int) and number.is_integer():
        return int(number)
    return number


def _source(value: Any) -> PowerSource:
    if isinstance(value, PowerSource):
        return value
    if not isinstance(value, Mapping):
        raise HVACParamsError(f"hvac.source: expected a table, got {type(value).__name__}")
    fields = attrs.fields_dict(PowerSource)
    unknown = sorted(str(k) for k in value if k not in fields)
    if unknown:
        raise HVACParamsError(
            f"hvac.source: unknown key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(fields)})"
        )
    return PowerSource(**dict(value))

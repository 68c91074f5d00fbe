"""PowerDataNormalizer: units, stage codes, time zones, duplicates, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hvac_test_helpers import T0

from meshinsights.errors import NormalizationError
from meshinsights_hvac.normalizers import PowerDataNormalizer
from meshinsights_hvac.params import HVACParams
from meshinsights_hvac.schemas import HVAC_POWER_SCHEMA


def raw(minutes: list[int], power: list[float], stage: list[object] | None = None,
        power_column: str = "power_w") -> pd.DataFrame:
    frame = pd.DataFrame({
        "timestamp": T0 + pd.to_timedelta(np.array(minutes), unit="min"),
        power_column: power,
    })
    if stage is not None:
        frame["stage"] = stage
    return frame


def test_units_stage_codes_duplicates_and_order() -> None:
    frame = raw([3, 0, 1, 2, 2, 4, 5], [3000, 0, 3100, 10, 3050, np.nan, -20],
                ["Y1", "OFF", "Y1", "Y1", "G+Y1", "Y2", "off"])
    meta: dict[str, object] = {}
    out = PowerDataNormalizer().normalize(frame, meta)
    assert out["timestamp"].tolist() == [T0 + pd.Timedelta(minutes=m) for m in (0, 1, 2, 3, 5)]
    # the later duplicate of 00:02 wins; -20 W is within the -0.05 kW tolerance -> clipped to 0
    np.testing.assert_allclose(out["power_kw"], [0.0, 3.1, 3.05, 3.0, 0.0])
    assert out["stage"].astype(str).tolist() == ["off", "cool1", "cool1", "cool1", "off"]
    assert out["cycle_id"].tolist()[1:4] == ["cool1-00001"] * 3
    assert out["cycle_id"].isna().tolist() == [True, False, False, False, True]
    assert meta["rows_dropped"] == {
        "timestamp_missing": 0, "power_missing": 1, "power_not_finite": 0,
        "power_negative": 0, "stage_missing": 0, "duplicate_timestamp": 1}
    assert meta["clipped_negative"] == 1
    assert meta["sampling_interval_s"] == 60.0
    assert meta["unit_conversion"] == "W -> kW (x0.001)"
    assert (meta["rows_in"], meta["rows_out"]) == (7, 5)
    assert HVAC_POWER_SCHEMA.passes(out)


def test_kilowatts_by_name_or_parameter_and_invalid_power() -> None:
    frame = raw([0, 1, 2, 3], [2.5, -1.0, np.inf, 2.6], ["Y1"] * 4, power_column="PowerKW")
    meta: dict[str, object] = {}
    out = PowerDataNormalizer().normalize(frame, meta)
    np.testing.assert_allclose(out["power_kw"], [2.5, 2.6])
    assert meta["rows_dropped"]["power_negative"] == 1  # type: ignore[index]
    assert meta["rows_dropped"]["power_not_finite"] == 1  # type: ignore[index]
    renamed = frame.rename(columns={"PowerKW": "demand"})
    params = HVACParams.from_mapping({"source": {"power": "demand"}})
    with pytest.raises(NormalizationError, match="column 'demand': cannot tell whether power"):
        PowerDataNormalizer(params).normalize(renamed)
    out = PowerDataNormalizer(params, power_unit="kW").normalize(renamed)
    np.testing.assert_allclose(out["power_kw"], [2.5, 2.6])


def test_naive_local_time_and_text_timestamps() -> None:
    frame = pd.DataFrame({"timestamp": ["2024-07-01 08:00", "2024-07-01 08:01"],
                          "power_w": [0, 0], "stage": ["OFF", "OFF"]})
    out = PowerDataNormalizer(timezone="America/New_York").normalize(frame)
    assert out["timestamp"].tolist() == [pd.Timestamp("2024-07-01 12:00", tz="UTC"),
                                         pd.Timestamp("2024-07-01 12:01", tz="UTC")]
    utc = PowerDataNormalizer().normalize(frame)
    assert utc["timestamp"].iloc[0] == pd.Timestamp("2024-07-01 08:00", tz="UTC")
    assert str(utc["timestamp"].dtype) == "datetime64[us, UTC]"


def test_numeric_codes_with_mode_and_inferred_stage() -> None:
    frame = raw([0, 1, 2, 3], [0, 3000, 4500, 0], [0, 1, 2, 0])
    out = PowerDataNormalizer(mode="heat").normalize(frame)
    assert out["stage"].astype(str).tolist() == ["off", "heat1", "heat2", "off"]
    with pytest.raises(NormalizationError, match="numeric stage codes need a mode"):
        PowerDataNormalizer().normalize(frame)
    with pytest.raises(NormalizationError, match=r"unknown numeric stage code\(s\) 7 "):
        PowerDataNormalizer(mode="cool").normalize(raw([0], [0], [7]))
    meta: dict[str, object] = {}
    inferred = PowerDataNormalizer(HVACParams(default_on_stage="heat1")).normalize(
        raw([0, 1, 2], [0, 3000, 100]), meta)
    assert inferred["stage"].astype(str).tolist() == ["off", "heat1", "off"]
    assert meta["stage_source"] == "inferred from power"


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"time": [1], "power_w": [1]}), "no timestamp column 'timestamp'"),
        (raw([0], [1]).rename(columns={"power_w": "p"}), "no power column 'power_w'"),
        (pd.DataFrame({"timestamp": ["yesterday"], "power_w": [1]}),
         "column 'timestamp': 1 timestamp(s) could not be parsed (e.g. 'yesterday')"),
        (pd.DataFrame({"timestamp": [1, 2], "power_w": [1, 2]}), "timestamps are numbers"),
        (raw([0, 1], [0, 0], ["Y1", "Z9"]), "column 'stage': unknown stage code(s) 'Z9'"),
        (raw([0], [0], ["Y1+W1"]), "unknown stage code(s) 'Y1+W1'"),
        (raw([0], ["lots"], ["Y1"]), None),
    ],
)
def test_bad_input_names_the_column(frame: pd.DataFrame, message: str | None) -> None:
    if message is None:  # text power is dropped and counted, not an error
        meta: dict[str, object] = {}
        assert len(PowerDataNormalizer().normalize(frame, meta)) == 0
        assert meta["rows_dropped"]["power_missing"] == 1  # type: ignore[index]
        return
    with pytest.raises(NormalizationError) as info:
        PowerDataNormalizer().normalize(frame)
    assert message in str(info.value)


def test_gap_splits_cycles_in_the_cycle_id() -> None:
    frame = raw([0, 1, 2, 3, 10, 11, 12], [3000] * 7, ["Y1"] * 7)
    out = PowerDataNormalizer().normalize(frame)
    assert out["cycle_id"].tolist() == ["cool1-00001"] * 4 + ["cool1-00002"] * 3

"""HVACParams: the spec's defaults, overrides from run and device tables, clear errors."""

from __future__ import annotations

import pickle

import pytest

from meshinsights_hvac.params import HVACParams, HVACParamsError, PowerSource


def test_defaults_are_the_spec_numbers() -> None:
    p = HVACParams()
    assert (p.trim_start_s, p.trim_end_s, p.min_cycle_minutes, p.min_samples_per_cycle) == (
        120, 60, 5, 3)
    assert (p.on_threshold_kw, p.short_cycle_minutes, p.min_off_minutes) == (0.2, 3, 5)
    assert (p.max_gap_factor, p.min_cycles_per_stage, p.min_samples_per_stage) == (2.5, 5, 20)
    assert p.min_coverage == 0.9
    assert (p.within_cycle_stable_cv, p.within_cycle_moderate_cv) == (0.03, 0.08)
    assert (p.cycle_median_stable_cv, p.cycle_median_moderate_cv, p.outlier_z) == (0.07, 0.15, 3.5)
    assert (p.band_mad_multiplier, p.band_min_fraction, p.band_min_kw) == (3, 0.15, 0.1)
    assert (p.no_power_min_cycles, p.short_cycle_max_per_day, p.max_calls_per_hour) == (2, 10, 5)
    assert (p.out_of_band_min_cycles, p.out_of_band_max_fraction) == (3, 0.2)
    assert p.default_on_stage == "cool1"
    assert p.source == PowerSource(table="power", location_id="location_id",
                                   control_id="control_id", timestamp="timestamp",
                                   power="power_w", stage="stage")


def test_from_mapping_accepts_csv_text_and_nested_source() -> None:
    p = HVACParams.from_mapping({"min_cycle_minutes": "7", "min_cycles_per_stage": "4",
                                 "source": {"table": "rtu_power", "power": "PowerKW"}})
    assert p.min_cycle_minutes == 7.0 and p.min_cycles_per_stage == 4
    assert isinstance(p.min_cycles_per_stage, int)
    assert p.source.table == "rtu_power" and p.source.power == "PowerKW"
    assert pickle.loads(pickle.dumps(p)) == p


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"min_cycle_minuts": 5}, "unknown parameter(s) 'min_cycle_minuts'"),
        ({"trim_start_s": -1}, "hvac.trim_start_s: must be >= 0"),
        ({"min_cycles_per_stage": 2.5}, "hvac.min_cycles_per_stage: expected a whole number"),
        ({"on_threshold_kw": "lots"}, "hvac.on_threshold_kw: expected a number, got 'lots'"),
        ({"on_threshold_kw": True}, "hvac.on_threshold_kw: expected a number"),
        ({"min_coverage": 1.5}, "hvac.min_coverage: must be <= 1"),
        ({"default_on_stage": "warm"}, "hvac.default_on_stage: 'warm' is not one of"),
        ({"within_cycle_stable_cv": 0.2}, "within_cycle_stable_cv must not exceed"),
        ({"source": {"table": "power; DROP TABLE x"}}, "hvac.source.table"),
        ({"source": {"colour": "x"}}, "hvac.source: unknown key(s) 'colour'"),
        ({"source": "power"}, "hvac.source: expected a table"),
    ],
)
def test_bad_values_name_the_key(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(HVACParamsError) as info:
        HVACParams.from_mapping(mapping)
    assert message in str(info.value)

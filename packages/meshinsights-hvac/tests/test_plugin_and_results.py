"""The plugin registers the solution and processors; the results table of section 5."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from meshinsights import DeviceUnit, Pipeline, PipelineConfig, Solution
from meshinsights.plugins import PluginHost, get_registry
from meshinsights_hvac.demo import generate_fleet_frames
from meshinsights_hvac.factories import (
    create_hvac_data_object,
    create_hvac_data_sources,
    create_hvac_normalizers,
    create_hvac_processors,
)
from meshinsights_hvac.params import HVACParamsError
from meshinsights_hvac.processors import PROCESSOR_CLASSES
from meshinsights_hvac.results import COLUMNS, HVACResultsAdapter


def test_solution_and_processors_are_registered(hvac_host: PluginHost) -> None:
    registry = get_registry()
    solution = registry.solutions["hvac-power"].obj
    assert isinstance(solution, Solution)
    assert solution.parameters_key == "hvac"
    assert solution.data_source_factory is create_hvac_data_sources
    assert solution.results_adapter_factory is HVACResultsAdapter
    assert {c.__name__ for c in PROCESSOR_CLASSES} <= set(registry.processors)
    assert solution.validate_parameters is not None
    solution.validate_parameters({"min_cycle_minutes": 6})
    with pytest.raises(HVACParamsError, match=r"hvac\.min_cycle_minutes: must be >= 0"):
        solution.validate_parameters({"min_cycle_minutes": -6})
    for factory in (create_hvac_data_sources, create_hvac_normalizers, create_hvac_processors,
                    create_hvac_data_object, HVACResultsAdapter):
        assert pickle.loads(pickle.dumps(factory)) is factory


def test_from_solution_with_device_overrides_and_outputs(hvac_host: PluginHost,
                                                          tmp_path: Path) -> None:
    fleet = generate_fleet_frames(3, 10, seed=2)
    connection = {"plugin": "memory", "tables": {"power": fleet.power}}
    rows = fleet.devices.to_dict("records")
    devices = [DeviceUnit(r["device_id"], {**r, "connection": connection}) for r in rows]
    # one device with a threshold no cycle can meet: all its stages become insufficient
    devices[0] = DeviceUnit(rows[0]["device_id"], {**rows[0], "connection": connection,
                                                   "hvac": {"min_cycles_per_stage": 100000}})
    # one device whose connection is missing: a clear per-device failure
    devices[1] = DeviceUnit(rows[1]["device_id"], dict(rows[1]))
    pipeline = Pipeline.from_solution("hvac-power", PipelineConfig(pipeline_name="t"))
    results = pipeline.run_batch(devices)
    table = HVACResultsAdapter().to_dataframe(results)
    assert list(table.columns) == list(COLUMNS)
    by_device = dict(iter(table.groupby("device_id")))
    first = by_device[rows[0]["device_id"]]
    assert set(first["status"]) == {"insufficient_data"}
    assert set(first["issues"]) == {"insufficient_cycles"}
    failed = by_device[rows[1]["device_id"]]
    assert len(failed) == 1 and failed["stage"].isna().all()
    assert failed["status"].iloc[0] == "failed"
    assert "no connection" in failed["first_error"].iloc[0]
    ok = by_device[rows[2]["device_id"]]
    assert set(ok["status"]) == {"ok"} and ok["baseline_kw"].notna().all()
    assert (ok["n_valid_cycles"] <= ok["n_cycles"]).all()
    table.to_csv(tmp_path / "summary.csv", index=False)
    table.to_parquet(tmp_path / "summary.parquet", index=False)
    back = pd.read_parquet(tmp_path / "summary.parquet")
    assert list(back.columns) == list(COLUMNS) and len(back) == len(table)


def test_demo_is_deterministic_and_vectorized_output() -> None:
    a = generate_fleet_frames(4, 3, seed=9)
    b = generate_fleet_frames(4, 3, seed=9)
    c = generate_fleet_frames(4, 3, seed=10)
    pd.testing.assert_frame_equal(a.power, b.power)
    pd.testing.assert_frame_equal(a.ground_truth, b.ground_truth)
    assert not a.power["power_w"].equals(c.power["power_w"])
    assert set(a.power["stage"]) <= {"OFF", "G", "Y1", "Y2", "W1", "W2"}
    assert str(a.power["timestamp"].dtype) == "datetime64[us, UTC]"
    assert list(a.devices.columns) == ["device_id", "location_id", "control_id",
                                       "start_date", "end_date"]

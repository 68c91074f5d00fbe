"""{{ cookiecutter.processor_class }}: the MeshInsights processor contract, its numbers on data
built to known answers, and a real pipeline run over the built-in ``memory`` connector."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from meshinsights import (
    DataNormalizer,
    DataSource,
    DeviceUnit,
    Pipeline,
    PipelineConfig,
    PipelineDataObject,
    Processor,
)
from meshinsights.testing import ProcessorContract, isolated_host

# The package under test comes after the libraries it plugs into.
# isort: split
from {{ cookiecutter.module_name }} import plugin
from {{ cookiecutter.module_name }}.processor import ARTIFACT, DATASET, {{ cookiecutter.processor_class }}

START = pd.Timestamp("2025-02-05", tz="UTC")
COOL1_KW = 3.0
COOL2_KW = 4.5


def hvac_power(days: int, cool1_min: int, cool2_min: int, start: pd.Timestamp = START) -> pd.DataFrame:
    """A normalized ``hvac_power`` frame, one sample a minute, with known answers.

    Every hour starts with ``cool1_min`` minutes of cool1, then ``cool2_min``
    minutes of cool2, then the unit is off; each stage run is one cycle.
    """
    minute = np.arange(days * 1440)
    in_hour = minute % 60
    stage = np.select([in_hour < cool1_min, in_hour < cool1_min + cool2_min], ["cool1", "cool2"], "off")
    power = np.select([stage == "cool1", stage == "cool2"], [COOL1_KW, COOL2_KW], 0.0)
    stages = pd.Series(stage, dtype="str")
    cycle_id = (stages + "-" + pd.Series(minute // 60).astype("str").str.zfill(5)).where(stages != "off")
    return pd.DataFrame({
        "timestamp": start + pd.to_timedelta(minute, unit="min"),
        "power_kw": power,
        "stage": stages,
        "cycle_id": cycle_id,
    })


def data_object(frame: pd.DataFrame, device_id: str = "rtu-1") -> PipelineDataObject:
    return PipelineDataObject("test", {"device_id": device_id}, {DATASET: frame})


class TestContract(ProcessorContract):
    """Everything MeshInsights expects of any processor."""

    @pytest.fixture
    def processor(self) -> Processor:
        return {{ cookiecutter.processor_class }}()

    @pytest.fixture
    def make_data_object(self) -> Callable[[], PipelineDataObject]:
        return lambda: data_object(hvac_power(days=2, cool1_min=12, cool2_min=6))


def test_runtime_energy_and_cycles_per_day_and_stage() -> None:
    result = {{ cookiecutter.processor_class }}()(data_object(hvac_power(days=3, cool1_min=12, cool2_min=6)))
    daily = result.get_artifact(ARTIFACT)
    assert result.errors == []
    assert result.warnings == []
    assert list(daily["stage"]) == ["cool1", "cool2"] * 3
    assert list(daily["day"]) == [START + pd.Timedelta(days=d) for d in (0, 0, 1, 1, 2, 2)]
    expected_h = np.tile([12 * 24 / 60, 6 * 24 / 60], 3)
    np.testing.assert_allclose(daily["runtime_h"], expected_h)
    np.testing.assert_allclose(daily["energy_kwh"], expected_h * np.tile([COOL1_KW, COOL2_KW], 3))
    assert list(daily["n_cycles"]) == [24] * 6


def test_a_data_gap_is_not_runtime() -> None:
    frame = hvac_power(days=1, cool1_min=30, cool2_min=0)
    # Drop 10:05 to 11:59: the 10:04 sample is followed by a gap, not by two hours of cooling.
    gap = (frame["timestamp"] > START + pd.Timedelta("10:04:00")) & (
        frame["timestamp"] < START + pd.Timedelta("12:00:00"))
    result = {{ cookiecutter.processor_class }}()(data_object(frame[~gap].reset_index(drop=True)))
    daily = result.get_artifact(ARTIFACT)
    assert daily["runtime_h"].tolist() == pytest.approx([(24 * 30 - 25 - 30) / 60])


def test_no_on_time_gives_an_empty_valid_frame() -> None:
    result = {{ cookiecutter.processor_class }}()(data_object(hvac_power(days=1, cool1_min=0, cool2_min=0)))
    daily = result.get_artifact(ARTIFACT)
    assert daily.empty
    assert list(daily.columns) == ["day", "stage", "runtime_h", "energy_kwh", "n_cycles"]
    assert result.warnings == []


def test_skips_a_device_without_the_dataset() -> None:
    result = {{ cookiecutter.processor_class }}()(PipelineDataObject("test", {"device_id": "rtu-9"}))
    assert result.errors == []
    assert ARTIFACT not in result.artifacts
    assert "no 'hvac_power' dataset" in result.warnings[0].message


def test_a_missing_column_fails_the_device_naming_the_column() -> None:
    frame = hvac_power(days=1, cool1_min=10, cool2_min=0).drop(columns=["power_kw"])
    with pytest.raises(Exception, match="power_kw"):
        {{ cookiecutter.processor_class }}()(data_object(frame))


class PowerRows(DataSource):
    """One device's rows of the in-memory ``hvac_power`` table."""

    def __init__(self, device_id: str, tables: Mapping[str, pd.DataFrame]) -> None:
        super().__init__(DATASET, "memory", {"tables": tables})
        self.device_id = device_id

    def build_query(self) -> str:
        return DATASET

    def build_parameters(self) -> dict[str, str]:
        return {"device_id": self.device_id}


def test_runs_inside_a_pipeline_on_generated_data() -> None:
    fleet = pd.concat([
        hvac_power(days=2, cool1_min=10, cool2_min=5).assign(device_id="rtu-1"),
        hvac_power(days=2, cool1_min=20, cool2_min=0).assign(device_id="rtu-2"),
    ], ignore_index=True)
    tables = {DATASET: fleet}

    def sources(device: DeviceUnit) -> dict[str, DataSource]:
        return {DATASET: PowerRows(device.device_id, tables)}

    def normalizers(device: DeviceUnit) -> dict[str, DataNormalizer]:
        return {}

    with isolated_host(plugin) as host:
        registered = host.registry.processors[plugin.PROCESSOR_NAME].obj

        def processors(device: DeviceUnit) -> Sequence[Processor]:
            return [registered()]

        pipeline = Pipeline(sources, normalizers, processors, config=PipelineConfig(batch_size=1))
        results = pipeline.run_producer_consumer([DeviceUnit("rtu-1"), DeviceUnit("rtu-2")])

    assert registered is {{ cookiecutter.processor_class }}
    assert results.failed_devices == []
    for device_id, cool1_min in (("rtu-1", 10), ("rtu-2", 20)):
        daily = results.device_results[device_id].artifacts[ARTIFACT]
        cool1 = daily[daily["stage"] == "cool1"]
        assert cool1["runtime_h"].tolist() == pytest.approx([cool1_min * 24 / 60] * 2)
    assert results.device_results["rtu-2"].artifacts[ARTIFACT]["stage"].unique().tolist() == ["cool1"]

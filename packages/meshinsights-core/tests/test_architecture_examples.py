"""The architecture document's "Configure and Run Pipeline" and "Aggregate Results" examples.

The two examples are pasted as written; what they need (the factories,
HVACPipelineDataObject, HVACResultsAdapter) is a small HVAC-like solution of
our own, defined here on top of the built-in memory connector.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from meshinsights import (
    DataNormalizer,
    DataSource,
    DeviceUnit,
    Pipeline,
    PipelineConfig,
    PipelineDataObject,
    Processor,
    ResultsAdapter,
)
from meshinsights.plugins import PluginHost


# ---------------------------------------------------------------- the store behind the source
def _telemetry() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    times = pd.date_range("2025-02-01", "2025-05-10", freq="6h", tz="UTC")
    frames = []
    for control_id in ["2916276", "2916277", "2916278"]:
        frames.append(
            pd.DataFrame(
                {
                    "LocationId": "11688",
                    "ControlId": control_id,
                    "Timestamp": times,
                    "PowerKW": rng.gamma(2.0, 1.5, len(times)).round(3),
                    "Stage": rng.choice(["stage1", "stage2"], len(times)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


TABLES = {"hvac_power": _telemetry()}


# ---------------------------------------------------------------- the solution's parts
class HVACPipelineDataObject(PipelineDataObject):
    ARTIFACT_FILTERED_CYCLES = "cycles/filtered_data"
    ARTIFACT_ISSUES_PER_STAGE = "issues/per_stage"
    ARTIFACT_BASELINE_THRESHOLDS = "baseline/thresholds"


class PowerDataRetrieval(DataSource):
    def __init__(
        self, location_id: str, control_id: str, start_date: date, end_date: date,
        adx_cluster: str | None = None, adx_database: str | None = None,
        adx_tenant_id: str | None = None,
    ) -> None:
        super().__init__("hvac_power", "memory", {"tables": TABLES})
        self.location_id, self.control_id = location_id, control_id
        self.start_date, self.end_date = start_date, end_date

    def build_query(self) -> str:
        return "hvac_power"

    def build_parameters(self) -> dict[str, Any]:
        return {
            "LocationId": self.location_id,
            "ControlId": self.control_id,
            "Timestamp__ge": pd.Timestamp(self.start_date, tz="UTC"),
            "Timestamp__lt": pd.Timestamp(self.end_date + timedelta(days=1), tz="UTC"),
        }


class PowerDataNormalizer(DataNormalizer):
    required_columns = ("Timestamp", "PowerKW", "Stage")

    def get_schema(self) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(
            {
                "timestamp": pa.Column("datetime64[us, UTC]"),
                "power_kw": pa.Column(float, pa.Check.ge(0)),
                "stage": pa.Column(str),
            }
        )

    def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
        return data.rename(
            columns={"Timestamp": "timestamp", "PowerKW": "power_kw", "Stage": "stage"}
        )[["timestamp", "power_kw", "stage"]]


class FilterValidCycles(Processor):
    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(
            HVACPipelineDataObject.ARTIFACT_FILTERED_CYCLES,
            pa.DataFrameSchema({"power_kw": pa.Column(float, pa.Check.gt(0.5))}),
        )

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        frame = data_object.get_dataset("hvac_power")
        return data_object.set_artifact(
            HVACPipelineDataObject.ARTIFACT_FILTERED_CYCLES, frame[frame["power_kw"] > 0.5]
        )


class CalculateBaselinePowerThresholds(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        cycles = data_object.get_artifact(HVACPipelineDataObject.ARTIFACT_FILTERED_CYCLES)
        thresholds = cycles.groupby("stage")["power_kw"].quantile(0.9).round(3).to_dict()
        return data_object.set_artifact(HVACPipelineDataObject.ARTIFACT_BASELINE_THRESHOLDS, thresholds)


class CountIssuesPerStage(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        cycles = data_object.get_artifact(HVACPipelineDataObject.ARTIFACT_FILTERED_CYCLES)
        limits = cycles["stage"].map(
            data_object.get_artifact(HVACPipelineDataObject.ARTIFACT_BASELINE_THRESHOLDS)
        )
        issues = cycles[cycles["power_kw"] > limits].groupby("stage").size()
        return data_object.set_artifact(
            HVACPipelineDataObject.ARTIFACT_ISSUES_PER_STAGE, {k: int(v) for k, v in issues.items()}
        )


class HVACResultsAdapter(ResultsAdapter):
    columns = ("device_id", "status", "stage1_threshold_kw", "stage2_threshold_kw", "issues")

    def rows(self, results: Any) -> Any:
        for device_id, dobj in results.device_results.items():
            thresholds = dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_BASELINE_THRESHOLDS, {})
            issues = dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_ISSUES_PER_STAGE, {})
            yield {
                "device_id": device_id,
                "status": dobj.status,
                "stage1_threshold_kw": thresholds.get("stage1"),
                "stage2_threshold_kw": thresholds.get("stage2"),
                "issues": sum(issues.values()),
            }


def create_hvac_data_sources(device: DeviceUnit) -> dict[str, DataSource]:
    params = device.parameters or {}
    return {
        "hvac_power": PowerDataRetrieval(
            location_id=str(params["location_id"]),
            control_id=str(params["control_id"]),
            start_date=params["start_date"],
            end_date=params["end_date"],
        )
    }


def create_hvac_normalizers(device: DeviceUnit) -> dict[str, DataNormalizer]:
    return {"hvac_power": PowerDataNormalizer()}


def create_hvac_processors(device: DeviceUnit) -> list[Processor]:
    return [FilterValidCycles(), CalculateBaselinePowerThresholds(), CountIssuesPerStage()]


def create_hvac_data_object(
    device_id: str, pipeline_name: str, metadata: dict[str, Any]
) -> HVACPipelineDataObject:
    return HVACPipelineDataObject(
        pipeline_name=f"{pipeline_name}_{device_id}",
        config={"device_id": device_id, "pipeline_type": "hvac_power", **(metadata or {})},
    )


# ---------------------------------------------------------------- the document's examples
def configure_and_run_pipeline() -> Any:
    """"Configure and Run Pipeline", as written in the architecture document."""
    from datetime import date

    # Define devices to process (location + control pair)
    devices = [
        DeviceUnit(
            device_id=control_id,
            parameters={
                "location_id": "11688",
                "control_id": control_id,
                "start_date": date(2025, 2, 5),
                "end_date": date(2025, 5, 5),
            },
        )
        for control_id in ["2916276", "2916277"]
    ]

    # Create pipeline with HVAC factories and run with producer-consumer overlap
    pipeline = Pipeline(
        data_source_factory=create_hvac_data_sources,
        normalizer_factory=create_hvac_normalizers,
        processor_factory=create_hvac_processors,
        data_object_factory=create_hvac_data_object,
        results_adapter=HVACResultsAdapter(),
        config=PipelineConfig(
            pipeline_name="phd_hvac_power",
            batch_size=10,
            stop_on_error=False,
            io_max_workers=5,
            cpu_max_workers=5,
        ),
    )

    results = pipeline.run_producer_consumer(devices)

    # Access per-device artifacts
    for device_id, dobj in results.device_results.items():
        issues = dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_ISSUES_PER_STAGE, {})
        thresholds = dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_BASELINE_THRESHOLDS, {})
        print(device_id, issues, thresholds)
    return results


def aggregate_results(results: Any) -> pd.DataFrame:
    """"Aggregate Results", as written in the architecture document."""
    import pandas as pd

    # Use the HVACResultsAdapter for a tabular summary
    adapter = HVACResultsAdapter()
    summary_df = adapter.to_dataframe(results)
    summary_df.to_csv("batch_results.csv", index=False)

    # Or build a custom view
    metrics = []
    for device_id, dobj in results.device_results.items():
        metrics.append({
            "device_id": device_id,
            "issues_per_stage": dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_ISSUES_PER_STAGE, {}),
            "baseline_thresholds": dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_BASELINE_THRESHOLDS, {}),
            "errors": len(dobj.errors),
            "warnings": len(dobj.warnings),
        })
    custom_df = pd.DataFrame(metrics)
    return custom_df  # noqa: RET504 - the example ends by building custom_df


# ---------------------------------------------------------------- the checks
def expected_thresholds(control_id: str) -> dict[str, float]:
    raw = TABLES["hvac_power"]
    window = raw[
        (raw["ControlId"] == control_id)
        & (raw["Timestamp"] >= pd.Timestamp("2025-02-05", tz="UTC"))
        & (raw["Timestamp"] < pd.Timestamp("2025-05-06", tz="UTC"))
        & (raw["PowerKW"] > 0.5)
    ]
    return window.groupby("Stage")["PowerKW"].quantile(0.9).round(3).to_dict()  # type: ignore[no-any-return]


def test_the_documented_examples_run_as_written(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    results = configure_and_run_pipeline()

    assert results.successful_devices == ["2916276", "2916277"]
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == ["2916276", "2916277"]
    for device_id, dobj in results.device_results.items():
        assert isinstance(dobj, HVACPipelineDataObject)
        assert dobj.pipeline_name == f"phd_hvac_power_{device_id}"
        assert dobj.config["pipeline_type"] == "hvac_power"
        thresholds = dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_BASELINE_THRESHOLDS)
        assert thresholds == expected_thresholds(device_id)
        issues = dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_ISSUES_PER_STAGE)
        assert set(issues) == {"stage1", "stage2"} and all(n > 0 for n in issues.values())
        assert dobj.warnings == []  # the filtered cycles match their schema

    custom_df = aggregate_results(results)
    summary = pd.read_csv(tmp_path / "batch_results.csv", dtype={"device_id": str})
    assert summary["device_id"].tolist() == ["2916276", "2916277"]
    assert summary["status"].tolist() == ["ok", "ok"]
    assert summary["stage1_threshold_kw"].tolist() == [
        expected_thresholds(d)["stage1"] for d in ("2916276", "2916277")
    ]
    assert list(custom_df.columns) == [
        "device_id", "issues_per_stage", "baseline_thresholds", "errors", "warnings",
    ]
    assert custom_df["errors"].tolist() == [0, 0]
    assert custom_df["baseline_thresholds"].tolist() == [
        expected_thresholds(d) for d in ("2916276", "2916277")
    ]

"""The architecture document's HVAC example, run as written against a generated fleet.

The only addition to the document's code is the device's ``connection``
(the run config's ``[connection]`` table), which the document leaves implicit:
here the file connector over the fleet's Parquet files.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import meshinsights_hvac.plugin as hvac_plugin
from meshinsights import DeviceUnit, Pipeline, PipelineConfig
from meshinsights.testing import isolated_host
from meshinsights_hvac import (
    HVACPipelineDataObject,
    HVACResultsAdapter,
    create_hvac_data_object,
    create_hvac_data_sources,
    create_hvac_normalizers,
    create_hvac_processors,
)
from meshinsights_hvac.demo import generate_fleet
from meshinsights_hvac.results import COLUMNS


def test_document_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    import meshinsights_connector_file.plugin as file_plugin

    # Locations 11688.., controls 2916276.. from 2025-02-05: the document's own ids.
    generate_fleet(n_devices=2, days=90, seed=0, out_dir=tmp_path / "fleet")
    connection = {"plugin": "file", "root": str(tmp_path / "fleet"),
                  "tables": {"power": "power/*.parquet"}}
    monkeypatch.chdir(tmp_path)
    with isolated_host(hvac_plugin, file_plugin):
        # --- 2. Configure and Run Pipeline (as in the document) ---------------------
        devices = [
            DeviceUnit(
                device_id=control_id,
                parameters={
                    "location_id": "11688",
                    "control_id": control_id,
                    "start_date": date(2025, 2, 5),
                    "end_date": date(2025, 5, 5),
                    "connection": connection,
                },
            )
            for control_id in ["2916276", "2916277"]
        ]
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
        for device_id, dobj in results.device_results.items():
            issues = dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_ISSUES_PER_STAGE, {})
            thresholds = dobj.get_artifact(HVACPipelineDataObject.ARTIFACT_BASELINE_THRESHOLDS, {})
            print(device_id, issues, thresholds)

        # --- 3. Aggregate Results (as in the document) --------------------------------
        adapter = HVACResultsAdapter()
        summary_df = adapter.to_dataframe(results)
        summary_df.to_csv("batch_results.csv", index=False)
        metrics = []
        for device_id, dobj in results.device_results.items():
            metrics.append({
                "device_id": device_id,
                "issues_per_stage": dobj.get_artifact(
                    HVACPipelineDataObject.ARTIFACT_ISSUES_PER_STAGE, {}),
                "baseline_thresholds": dobj.get_artifact(
                    HVACPipelineDataObject.ARTIFACT_BASELINE_THRESHOLDS, {}),
                "errors": len(dobj.errors),
                "warnings": len(dobj.warnings),
            })
        custom_df = pd.DataFrame(metrics)

    assert results.successful_devices == ["2916276", "2916277"]
    printed = capsys.readouterr().out
    assert "2916276 {" in printed and "baseline_kw" in printed
    written = pd.read_csv(tmp_path / "batch_results.csv", dtype={"device_id": str})
    assert list(written.columns) == list(COLUMNS)
    assert set(written["device_id"]) == {"2916276", "2916277"}
    assert written["baseline_kw"].notna().all()
    assert (written["lower_kw"] < written["baseline_kw"]).all()
    assert (written["baseline_kw"] < written["upper_kw"]).all()
    assert custom_df["errors"].tolist() == [0, 0]
    # 2916277 carries an injected fault in this fleet; 2916276 is clean
    truth = pd.read_csv(tmp_path / "fleet" / "ground_truth.csv", dtype=str)
    for row in truth.itertuples():
        assert row.issue_code in custom_df.set_index("device_id").loc[
            row.device_id, "issues_per_stage"][row.stage]

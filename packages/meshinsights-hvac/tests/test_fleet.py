"""The chain finds every injected fault of a generated fleet, and nothing on clean devices."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from meshinsights import DeviceUnit, Pipeline, PipelineConfig
from meshinsights.plugins import PluginHost
from meshinsights_hvac.demo import FAULTS, generate_fleet_frames
from meshinsights_hvac.factories import (
    create_hvac_data_object,
    create_hvac_data_sources,
    create_hvac_normalizers,
    create_hvac_processors,
)
from meshinsights_hvac.results import HVACResultsAdapter

N_DEVICES, DAYS, SEED = 200, 14, 7


def test_fleet_recall_precision_and_clean_devices(hvac_host: PluginHost) -> None:
    fleet = generate_fleet_frames(N_DEVICES, DAYS, SEED)
    connection = {"plugin": "memory", "tables": {"power": fleet.power}}
    devices = [DeviceUnit(row["device_id"], {**row, "connection": connection})
               for row in fleet.devices.to_dict("records")]
    pipeline = Pipeline(
        data_source_factory=create_hvac_data_sources,
        normalizer_factory=create_hvac_normalizers,
        processor_factory=create_hvac_processors,
        data_object_factory=create_hvac_data_object,
        results_adapter=HVACResultsAdapter(),
        config=PipelineConfig(pipeline_name="fleet", batch_size=25, io_max_workers=2),
    )
    results = pipeline.run_producer_consumer(devices)
    assert results.failed_devices == []
    schema_warnings = [w.message for d in results.device_results.values()
                       for w in d.warnings if w.component == "schema"]
    assert schema_warnings == []

    table = results.to_dataframe()
    found = {(r.device_id, r.stage, code) for r in table.itertuples()
             for code in str(r.issues).split(";") if code and r.issues == r.issues}
    truth = set(fleet.ground_truth.itertuples(index=False, name=None))
    print(f"\n{'issue code':26s} {'tp':>4s} {'fp':>4s} {'fn':>4s} {'recall':>7s} {'precision':>9s}")
    for code in FAULTS:
        predicted = {x for x in found if x[2] == code}
        expected = {x for x in truth if x[2] == code}
        tp, fp, fn = len(predicted & expected), len(predicted - expected), len(expected - predicted)
        recall = tp / (tp + fn) if tp + fn else 1.0
        precision = tp / (tp + fp) if tp + fp else 1.0
        print(f"{code:26s} {tp:4d} {fp:4d} {fn:4d} {recall:7.3f} {precision:9.3f}")
        assert expected, f"the fleet has no {code} fault"
        assert recall >= 0.95, f"{code}: missed {sorted(expected - predicted)}"
        assert precision >= 0.95, f"{code}: false alarms {sorted(predicted - expected)}"
    assert {x[2] for x in found} <= set(FAULTS)

    faulty = set(fleet.ground_truth["device_id"])
    clean = [d for d in fleet.devices["device_id"] if d not in faulty]
    flagged = {x[0] for x in found}
    quiet = sum(d not in flagged for d in clean)
    print(f"clean devices with no issue: {quiet}/{len(clean)}")
    assert len(clean) >= N_DEVICES // 3
    assert quiet >= 0.95 * len(clean)

    statuses = Counter(table.drop_duplicates("device_id")["status"])
    insufficient = set(fleet.ground_truth.loc[
        fleet.ground_truth["issue_code"] == "insufficient_cycles", "device_id"])
    assert statuses["insufficient_data"] == len(insufficient)
    assert statuses["ok"] == N_DEVICES - len(insufficient)
    assert isinstance(table, pd.DataFrame) and table["device_id"].nunique() == N_DEVICES

"""Permanent faults: only the device concerned fails, with an error naming device, stage, component
and cause; ``stop_on_error`` stops cleanly, recording nothing of the devices after the failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from reliability_support import cli, ledger_records, read_summary, sitesage_power, write_config

from meshinsights_connector_adx.testing import KustoTestServer
from meshinsights_connector_sitesage.testing import SiteSageTestServer

N_GOOD = 8


def _devices(fleet_dir: Path, n: int) -> pd.DataFrame:
    return pd.read_csv(fleet_dir / "devices.csv", dtype=str).head(n)


def _documents(out: Path) -> dict[str, dict[str, object]]:
    lines = (out / "devices.jsonl").read_text().splitlines()
    return {d["device_id"]: d for d in map(json.loads, lines)}


def test_each_permanent_fault_fails_only_its_device(
    fleet_power: pd.DataFrame, fleet_dir: Path, baseline: pd.DataFrame, tmp_path: Path
) -> None:
    good = _devices(fleet_dir, N_GOOD)
    template = good.iloc[0].to_dict()
    extra = pd.DataFrame([
        # data missing: no rows for this control at all
        {**template, "device_id": "gone-1", "control_id": "9999999"},
        # a processor (the registered RaiseForMarkedDevice) raises for ids starting with "boom"
        {**template, "device_id": "boom-1"},
    ])
    pd.concat([good, extra]).to_csv(tmp_path / "devices.csv", index=False)
    with KustoTestServer({"power": fleet_power}, database="telemetry") as kusto:
        config = write_config(
            tmp_path, "adx.toml",
            {"plugin": "adx", "cluster": kusto.url, "database": "telemetry", "auth": "none",
             "retry_attempts": 3, "retry_initial_wait": 0.01},
            pipeline={"batch_size": 4, "extra_processors": ["RaiseForMarkedDevice"]},
        )
        # a query the server rejects (semantic error: the device reads a table that does not exist)
        config.write_text(config.read_text() + (
            "[[devices.inline]]\n"
            f'device_id = "rejected-1"\nlocation_id = "{template["location_id"]}"\n'
            f'control_id = "{template["control_id"]}"\nstart_date = "{template["start_date"]}"\n'
            f'end_date = "{template["end_date"]}"\nhvac = {{ source = {{ table = "power_archive" }} }}\n'
        ))
        result = cli("run", "adx.toml", cwd=tmp_path)
        rejected = [q for q in kusto.queries if "power_archive" in (q.query or "")]
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    out = tmp_path / "out"
    summary = read_summary(out)
    statuses = summary.groupby("device_id")["status"].first().to_dict()
    assert statuses.pop("boom-1") == "failed"
    assert statuses.pop("rejected-1") == "failed"
    # No rows is a normal outcome, not an error: the device has too little data to judge.
    assert statuses.pop("gone-1") == "insufficient_data"
    expected = baseline[baseline["device_id"].isin(good["device_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        summary[summary["device_id"].isin(good["device_id"])].reset_index(drop=True), expected,
        check_dtype=False,  # the failed devices' empty cells turn whole-number columns to float
    )

    documents = _documents(out)
    boom = documents["boom-1"]["errors"][0]
    assert boom.startswith("device 'boom-1': cpu stage")
    assert "RaiseForMarkedDevice" in boom and "RuntimeError: injected processor failure" in boom
    bad_query = documents["rejected-1"]["errors"][0]
    assert bad_query.startswith("device 'rejected-1': io stage, data source 'hvac_power' "
                                "(PowerDataRetrieval): ADXQueryError")
    assert "HTTP 400, permanent" in bad_query and "power_archive" in bad_query
    assert len(rejected) == 1, "a permanent error is not retried"
    assert documents["gone-1"]["errors"] == []
    assert "failed boom-1: device 'boom-1': cpu stage" in result.stdout
    assert "failed rejected-1: device 'rejected-1': io stage" in result.stdout


def test_missing_data_at_a_rest_source_fails_that_device_naming_it(
    fleet_power: pd.DataFrame, fleet_dir: Path, tmp_path: Path
) -> None:
    good = _devices(fleet_dir, 5)
    missing = {**good.iloc[0].to_dict(), "device_id": "gone-2", "location_id": "404404"}
    pd.concat([good, pd.DataFrame([missing])]).to_csv(tmp_path / "devices.csv", index=False)
    with SiteSageTestServer(sitesage_power(fleet_power), token="tk-perm-1234") as sitesage:
        write_config(tmp_path, "s.toml", {"plugin": "sitesage", "base_url": sitesage.url,
                                          "token": "tk-perm-1234", "retries": 2})
        result = cli("run", "s.toml", cwd=tmp_path)
        asked = [r for r in sitesage.requests if "404404" in r.segments]
    assert result.returncode == 1
    error = _documents(tmp_path / "out")["gone-2"]["errors"][0]
    assert error.startswith("device 'gone-2': io stage, data source 'hvac_power' (PowerDataRetrieval): "
                            "SiteSageError")
    assert "not found (404): no resource for location_id='404404'" in error
    assert len(asked) == 1 and asked[0].status == 404, "a 404 is not retried"
    statuses = read_summary(tmp_path / "out").groupby("device_id")["status"].first()
    assert (statuses.drop("gone-2") != "failed").all()


def test_stop_on_error_stops_cleanly_after_the_failing_device(
    fleet_power: pd.DataFrame, fleet_dir: Path, tmp_path: Path
) -> None:
    devices = _devices(fleet_dir, 12).reset_index(drop=True)
    devices.loc[5, "location_id"] = "404404"  # batch 2 (devices 4..7), second device
    devices.to_csv(tmp_path / "devices.csv", index=False)
    failing = devices.loc[5, "device_id"]
    with SiteSageTestServer(sitesage_power(fleet_power), token="tk-stop-5678") as sitesage:
        write_config(tmp_path, "s.toml", {"plugin": "sitesage", "base_url": sitesage.url,
                                          "token": "tk-stop-5678", "retries": 1},
                     pipeline={"batch_size": 4, "stop_on_error": True, "io_max_workers": 1})
        result = cli("run", "s.toml", cwd=tmp_path)
        recorded = {r["device_id"]: r["status"] for r in ledger_records(tmp_path / "out")}
        manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
        # --resume finishes the skipped devices (the failed one stays recorded as failed).
        resumed = cli("run", "--resume", "s.toml", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "stopped on error" in result.stderr
    assert f"failed {failing}: device '{failing}': io stage" in result.stdout
    # The batches before, and the failing batch up to the failing device: nothing after it.
    assert sorted(recorded) == sorted(devices["device_id"][:6])
    assert recorded[failing] == "failed"
    assert manifest["devices"]["total"] == 6
    assert resumed.returncode == 1 and "processed 6 devices" in resumed.stdout
    assert len(ledger_records(tmp_path / "out")) == 12

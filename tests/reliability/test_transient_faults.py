"""Transient faults at the real servers: a 200-device run still succeeds, with the fault-free results.

Each test runs ``meshinsights run`` in a subprocess against a server in this
process (the local Kusto endpoint, the SiteSage server) or a real MariaDB
server, injects faults into about 30 % of the requests (or stops and restarts
the database in the middle of the run), and checks every device's result
against the fault-free run over the file connector. Retries are bounded: the
servers' recorded requests show no call tried more often than configured.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
from reliability_support import (
    cli,
    fault_fraction,
    ledger_records,
    mysql_connection,
    read_summary,
    sitesage_power,
    write_config,
)

from meshinsights_connector_adx.testing import KustoTestServer
from meshinsights_connector_mysql.testing import MariaDBServer
from meshinsights_connector_sitesage.testing import SiteSageTestServer

#: Three fault kinds at this rate each fail 1 - (1 - 0.1121)^3 = 30 % of requests.
RATE_EACH = 0.1121
N_DEVICES = 200


def _figures(name: str, requests: list[Any], calls: dict[Any, list[Any]]) -> None:
    kinds: dict[str, int] = {}
    for request in requests:
        if request.fault:
            kinds[request.fault] = kinds.get(request.fault, 0) + 1
    print(f"\nRELIABILITY-FIGURES {name}: {len(requests)} requests, {sum(kinds.values())} faults "
          f"injected ({fault_fraction([r.fault for r in requests]):.1%}: {kinds}), {len(calls)} calls, "
          f"at most {max(len(t) for t in calls.values())} tries for one call; "
          f"{N_DEVICES} devices, all successful")


def assert_same_results(out: Path, baseline: pd.DataFrame) -> None:
    summary = read_summary(out)
    assert summary["device_id"].nunique() == N_DEVICES
    assert not (summary["status"] == "failed").any(), summary.loc[summary["status"] == "failed"]
    pd.testing.assert_frame_equal(summary, baseline)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["devices"]["total"] == N_DEVICES
    assert "failed" not in manifest["devices"]["by_status"]
    assert manifest["runs"][-1]["devices_failed"] == 0
    records = ledger_records(out)
    assert len(records) == N_DEVICES and all(r["status"] != "failed" for r in records)


def test_adx_with_30_percent_throttled_unavailable_or_timed_out_queries(
    fleet_power: pd.DataFrame, fleet_dir: Path, baseline: pd.DataFrame, tmp_path: Path
) -> None:
    attempts = 10
    with KustoTestServer({"power": fleet_power}, database="telemetry", seed=3) as kusto:
        for kind, options in (("throttle", {"retry_after": 0}), ("unavailable", {}),
                              ("slow", {"delay": 2.0})):
            kusto.inject(kind, rate=RATE_EACH, paths=("/v2/rest/query",), **options)
        write_config(
            tmp_path, "adx.toml",
            {"plugin": "adx", "cluster": kusto.url, "database": "telemetry", "auth": "none",
             "server_timeout": 0.2, "retry_attempts": attempts, "retry_initial_wait": 0.01,
             "retry_max_wait": 0.05, "retry_max_seconds": 30.0},
            devices_csv=str(fleet_dir / "devices.csv"), pipeline={"batch_fetch": False},
        )
        result = cli("run", "adx.toml", cwd=tmp_path)
        requests = kusto.queries
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert_same_results(tmp_path / "out", baseline)

    faults = [r.fault for r in requests]
    assert 0.2 <= fault_fraction(faults) <= 0.4, f"{fault_fraction(faults):.2%} of requests failed"
    assert {"throttle", "unavailable", "slow"} <= set(faults)
    # One logical query per device (its parameters say which); each retried at most `attempts`
    # times in all and ending in the one answer that succeeded.
    calls: dict[str, list[Any]] = defaultdict(list)
    for request in requests:
        calls[json.dumps(request.parameters, sort_keys=True)].append(request)
    assert len(calls) == N_DEVICES
    for tries in calls.values():
        assert len(tries) <= attempts
        assert [t.status for t in tries][-1] == 200
        assert [t.status for t in tries[:-1]] == [t.status for t in tries if t.status != 200]
    failed = sum(r.status != 200 for r in requests)
    # Every failed attempt is retried and says so in the run's log.
    retries_logged = len(re.findall(r"adx query on .* transient .* attempt \d+ of 10", result.stderr))
    assert retries_logged == failed > 0
    assert max(len(t) for t in calls.values()) >= 2
    _figures("adx", requests, calls)


def test_sitesage_with_30_percent_throttled_unavailable_or_timed_out_pages(
    fleet_power: pd.DataFrame, fleet_dir: Path, baseline: pd.DataFrame, tmp_path: Path
) -> None:
    retries = 8
    token = "ss-live-Qm4vT8x2Lr7nW1zK"
    with SiteSageTestServer(sitesage_power(fleet_power), token=token, seed=5) as sitesage:
        for kind, options in (("throttle", {"retry_after": 0}), ("unavailable", {}),
                              ("slow", {"delay": 1.3})):
            sitesage.inject(kind, rate=RATE_EACH, **options)
        write_config(
            tmp_path, "sitesage.toml",
            {"plugin": "sitesage", "base_url": sitesage.url, "token": "${REL_SITESAGE_TOKEN}",
             "timeout": [2.0, 1.0], "page_size": 5000, "retries": retries,
             "backoff_factor": 0.01, "retry_after_max": 1},
            devices_csv=str(fleet_dir / "devices.csv"),
        )
        result = cli("run", "sitesage.toml", cwd=tmp_path, env={"REL_SITESAGE_TOKEN": token})
        requests = sitesage.requests
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert_same_results(tmp_path / "out", baseline)

    faults = [r.fault for r in requests]
    assert 0.2 <= fault_fraction(faults) <= 0.4, f"{fault_fraction(faults):.2%} of requests failed"
    assert {"throttle", "unavailable", "slow"} <= set(faults)
    # A logical call is one page of one device's power (path and query string).
    calls: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for request in requests:
        calls[(request.segments, tuple(sorted(request.query.items())))].append(request)
    assert len({key[0] for key in calls}) == N_DEVICES
    for tries in calls.values():
        assert len(tries) <= retries + 1
        # A slow answer is recorded when the server gives up writing it, after the client's retry;
        # under load a clean answer can also come too late for the read timeout.
        assert sum(t.status == 200 and t.fault is None for t in tries) >= 1
    assert max(len(t) for t in calls.values()) >= 2
    assert all(r.authorization == f"Bearer {token}" for r in requests)
    _figures("sitesage", requests, calls)


def test_mysql_server_stopped_and_restarted_during_the_run(
    mariadb_fleet: MariaDBServer, mysql_env: dict[str, str], fleet_dir: Path,
    baseline: pd.DataFrame, tmp_path: Path,
) -> None:
    retries = 12
    write_config(
        tmp_path, "mysql.toml",
        mysql_connection(mariadb_fleet.host, mariadb_fleet.port, retries=retries,
                         retry_max_wait=1.0, connect_timeout=2.0, read_timeout=30.0),
        devices_csv=str(fleet_dir / "devices.csv"), pipeline={"batch_fetch": False},
    )
    records = tmp_path / "out" / "ledger" / "devices"
    outages: list[str] = []

    def outage_when(done: int, how: str, pause: float, stop: threading.Event) -> None:
        while not stop.is_set() and len(list(records.glob("*.json"))) < done:
            time.sleep(0.02)
        if stop.is_set():
            return
        outages.append(f"{how} after {len(list(records.glob('*.json')))} devices")
        mariadb_fleet.kill() if how == "kill" else mariadb_fleet.stop()
        time.sleep(pause)
        mariadb_fleet.start()

    stop = threading.Event()

    def outages_thread() -> None:
        outage_when(40, "stop", 1.5, stop)
        outage_when(120, "kill", 0.5, stop)

    watcher = threading.Thread(target=outages_thread, daemon=True)
    watcher.start()
    try:
        result = cli("run", "mysql.toml", cwd=tmp_path, env=mysql_env)
    finally:
        stop.set()
        watcher.join(timeout=60)
        if not mariadb_fleet.running:
            mariadb_fleet.start()
    assert outages == ["stop after 40 devices", "kill after 120 devices"] or (
        len(outages) == 2 and outages[0].startswith("stop") and outages[1].startswith("kill")
    ), f"both outages must land in the middle of the run: {outages}"
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert_same_results(tmp_path / "out", baseline)

    # Retries were needed, logged, and never past the configured attempts.
    retry_numbers = [int(n) for n in re.findall(
        rf"mysql hvac@127\.0\.0\.1:{mariadb_fleet.port}/telemetry: transient error .*?"
        rf"retry (\d+) of {retries - 1}", result.stderr)]
    assert retry_numbers, "the outages must have made queries retry"
    assert max(retry_numbers) <= retries - 1
    print(f"\nRELIABILITY-FIGURES mysql: outages {outages}; {len(retry_numbers)} retries logged, "
          f"at most {max(retry_numbers)} for one statement (cap {retries - 1}); "
          f"{N_DEVICES} devices, all successful")


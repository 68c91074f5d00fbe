"""Transient faults at the real servers: a 200-device run still succeeds, with the fault-free results.

Each test runs ``meshinsights run`` in a subprocess against a server in this
process (the local Kusto endpoint, the SiteSage server) or a real MariaDB
server, injects faults into about 30 % of the requests (or stops and restarts
the database in the middle of the run), and checks every device's result
against the fault-free run over the file connector. Retries are bounded: the
servers' recorded requests show no call tried more often than configured, and
the manifest's ``retries`` section counts what the servers saw, within the
bounds it reports, with no give-up and no secret.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
from reliability_support import (
    MYSQL_PASSWORD,
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


def manifest_retries(
    out: Path, stdout: str, connector: str, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The run's retries of ``connector`` from its manifest: some, none given up, within bounds."""
    manifest = json.loads((out / "manifest.json").read_text())
    section = manifest["retries"]
    assert list(section) == [connector], section
    assert manifest["runs"][-1]["retries"] == section
    counted = section[connector]
    bounds = counted["bounds"]
    assert counted["retries"] > 0 and counted["calls_retried"] > 0
    assert counted["gave_up"] == 0 and counted["gave_up_seconds"] == 0
    assert 2 <= counted["longest_attempts"] <= bounds["max_attempts"]
    assert max(int(n) for n in counted["calls_by_attempts"]) == counted["longest_attempts"]
    assert sum(counted["reasons"].values()) == counted["retries"]
    assert sum(counted["calls_by_attempts"].values()) == counted["calls_retried"]
    assert sum((int(n) - 1) * calls for n, calls in counted["calls_by_attempts"].items()) == (
        counted["retries"])
    if bounds["max_wait_seconds"] is not None:  # each call's sleeping within its bound
        assert counted["wait_seconds"] <= counted["calls_retried"] * bounds["max_wait_seconds"]
    text = json.dumps(section)
    for secret in secrets:
        assert secret not in text
    # The CLI's end-of-run summary says it too, in one line.
    line = f"retries: {connector} {counted['retries']} ({counted['wait_seconds']:.1f} s waiting)"
    assert line in stdout, stdout
    return counted


def _counted_figures(name: str, counted: dict[str, Any]) -> None:
    print(f"RELIABILITY-FIGURES {name} manifest: {counted['calls']} calls, "
          f"{counted['retries']} retries in {counted['calls_retried']} calls "
          f"({counted['wait_seconds']:.2f} s waiting), gave up {counted['gave_up']}, "
          f"at most {counted['longest_attempts']} attempts "
          f"(bound {counted['bounds']['max_attempts']}); reasons {counted['reasons']}")


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
    # The manifest counts exactly what the server saw: one call per device, each failed attempt.
    counted = manifest_retries(tmp_path / "out", result.stdout, "adx")
    assert counted["calls"] == len(calls) == N_DEVICES
    assert counted["retries"] == failed
    assert counted["longest_attempts"] == max(len(t) for t in calls.values())
    assert counted["bounds"] == {"max_attempts": attempts, "max_seconds": 30.0,
                                 "max_wait_seconds": min(30.0, (attempts - 1) * 0.05)}
    statuses = Counter(r.status for r in requests if r.status != 200)
    assert Counter({int(reason.split()[1]): n for reason, n in counted["reasons"].items()}) == (
        statuses)
    _counted_figures("adx", counted)


def test_sitesage_with_30_percent_throttled_unavailable_or_timed_out_pages(
    fleet_power: pd.DataFrame, fleet_dir: Path, baseline: pd.DataFrame, tmp_path: Path
) -> None:
    retries, slow = 8, 1.3
    token = "ss-live-Qm4vT8x2Lr7nW1zK"
    with SiteSageTestServer(sitesage_power(fleet_power), token=token, seed=5) as sitesage:
        for kind, options in (("throttle", {"retry_after": 0}), ("unavailable", {}),
                              ("slow", {"delay": slow})):
            sitesage.inject(kind, rate=RATE_EACH, **options)
        write_config(
            tmp_path, "sitesage.toml",
            {"plugin": "sitesage", "base_url": sitesage.url, "token": "${REL_SITESAGE_TOKEN}",
             "timeout": [2.0, 1.0], "page_size": 5000, "retries": retries,
             "backoff_factor": 0.01, "retry_after_max": 1},
            devices_csv=str(fleet_dir / "devices.csv"),
        )
        result = cli("run", "sitesage.toml", cwd=tmp_path, env={"REL_SITESAGE_TOKEN": token})
        time.sleep(slow + 0.5)  # a slow answer is recorded when the server gives up on it
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
    # Every request the server saw beyond the one per page was a counted retry.
    counted = manifest_retries(tmp_path / "out", result.stdout, "sitesage", secrets=(token,))
    assert counted["calls"] == len(calls)
    assert counted["retries"] == len(requests) - len(calls)
    assert counted["longest_attempts"] == max(len(t) for t in calls.values())
    assert counted["bounds"]["max_attempts"] == retries + 1
    _counted_figures("sitesage", counted)


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
    counted = manifest_retries(tmp_path / "out", result.stdout, "mysql", secrets=(MYSQL_PASSWORD,))
    assert counted["retries"] == len(retry_numbers)  # one WARNING per counted retry
    assert counted["longest_attempts"] == max(retry_numbers) + 1
    assert counted["bounds"]["max_attempts"] == retries
    assert set(counted["reasons"]) <= {"2003", "2006", "2013", "InterfaceError"}
    print(f"\nRELIABILITY-FIGURES mysql: outages {outages}; {len(retry_numbers)} retries logged, "
          f"at most {max(retry_numbers)} for one statement (cap {retries - 1}); "
          f"{N_DEVICES} devices, all successful")
    _counted_figures("mysql", counted)

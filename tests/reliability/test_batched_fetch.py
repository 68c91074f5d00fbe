"""Batched fetches give the same results as one query per device: MySQL ``DATETIME``, and KQL.

The fleet's timestamps sit in a ``DATETIME(6)`` column (naive UTC, the layout
``PowerDataRetrieval`` documents), so each device's window must be compared
with naive values when a batch is split. A split that failed would make
Stage 1 fall back to one query per device with a warning: the run would
still be right, only slower, so the test reads the log to prove batching ran.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from reliability_support import cli, mysql_connection, read_summary, write_config

from meshinsights_connector_adx.testing import KustoTestServer
from meshinsights_connector_mysql.testing import MariaDBServer

N_DEVICES = 200
BATCH_SIZE = 20


def test_mysql_batched_fetch_splits_naive_datetimes_and_matches_single_queries(
    mariadb_fleet: MariaDBServer, mysql_env: dict[str, str], fleet_dir: Path,
    baseline: pd.DataFrame, tmp_path: Path,
) -> None:
    write_config(
        tmp_path, "mysql.toml", mysql_connection(mariadb_fleet.host, mariadb_fleet.port),
        devices_csv=str(fleet_dir / "devices.csv"),
        pipeline={"batch_fetch": True, "batch_size": BATCH_SIZE},
    )
    result = cli("--log-level", "DEBUG", "run", "mysql.toml", cwd=tmp_path, env=mysql_env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    log = result.stderr
    assert "fetching them one by one" not in log, log[-3000:]
    batched = [line for line in log.splitlines()
               if f"batched fetch of 'hvac_power' from mysql: {BATCH_SIZE} devices in one query" in line]
    assert len(batched) == N_DEVICES // BATCH_SIZE
    pd.testing.assert_frame_equal(read_summary(tmp_path / "out"), baseline)


def test_adx_batched_fetch_is_one_kql_query_per_batch_and_matches_single_queries(
    fleet_power: pd.DataFrame, fleet_dir: Path, baseline: pd.DataFrame, tmp_path: Path
) -> None:
    """The batched KQL (``in`` over the batch's ids, ordered by device) through the real
    Kusto client against the local endpoint; each device's rows split back out of it."""
    with KustoTestServer({"power": fleet_power}, database="telemetry") as kusto:
        write_config(
            tmp_path, "adx.toml",
            {"plugin": "adx", "cluster": kusto.url, "database": "telemetry", "auth": "none"},
            devices_csv=str(fleet_dir / "devices.csv"),
            pipeline={"batch_fetch": True, "batch_size": BATCH_SIZE},
        )
        result = cli("--log-level", "DEBUG", "run", "adx.toml", cwd=tmp_path)
        requests = kusto.queries
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "fetching them one by one" not in result.stderr, result.stderr[-3000:]
    assert len(requests) == N_DEVICES // BATCH_SIZE
    assert all("order by ['location_id'] asc, ['control_id'] asc" in r.query for r in requests)
    pd.testing.assert_frame_equal(read_summary(tmp_path / "out"), baseline)

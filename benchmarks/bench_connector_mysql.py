"""MySQL connector benchmark: rows to a DataFrame vs a bare pymysql fetchall of the same query.

Starts a throwaway MariaDB server on 127.0.0.1 in a temp directory (needs the
mariadb-server binaries), fills a table with 100,000 rows (device id, DATETIME(6),
two DOUBLEs, a VARCHAR), then times, best of N, the same SELECT:

- baseline:  ``pymysql.connect(...)``, ``cursor.execute``, ``cursor.fetchall()``
  (tuples, no DataFrame), on an open connection;
- connector: ``MySQLConnector.execute_query`` -> typed DataFrame (pooled connection,
  parameters escaped, dtype fixes from ``cursor.description``).

Target: connector within 1.5x of the baseline.

    python benchmarks/bench_connector_mysql.py            # 100,000 rows, best of 5
    python benchmarks/bench_connector_mysql.py --quick    # 10,000 rows, best of 2 (CI)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql

from meshinsights import PluginManager

TARGET = 1.5
DATABASE, USER, PASSWORD = "bench", "bench", "bench-Pw-0c5e"


def best_of(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, best of 2")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    rows = args.rows or (10_000 if args.quick else 100_000)
    repeats = args.repeats or (2 if args.quick else 5)

    from meshinsights_connector_mysql.testing import INSTALL_HINT, find_binaries, mariadb_server

    if find_binaries() is None:
        print(f"MariaDB server binaries not found; install them: {INSTALL_HINT}")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-mysql-") as tmp, \
            mariadb_server(Path(tmp)) as server:
        server.create_user(USER, PASSWORD, DATABASE)
        server.execute(
            "CREATE TABLE power (device_id VARCHAR(32), ts DATETIME(6), power_kw DOUBLE,"
            " voltage DOUBLE, site VARCHAR(64), KEY (device_id, ts))",
            "INSERT INTO power SELECT CONCAT('dev-', LPAD(seq MOD 1000, 4, '0')),"
            " TIMESTAMPADD(SECOND, seq, '2024-01-01'), seq / 7, 230 + (seq MOD 13) / 10,"
            f" CONCAT('site-', seq MOD 50) FROM seq_1_to_{rows}",
            database=DATABASE,
        )
        query = "SELECT device_id, ts, power_kw, voltage, site FROM power WHERE ts >= %s"
        params = ["2000-01-01"]
        config = {"host": server.host, "port": server.port, "user": USER,
                  "password": PASSWORD, "database": DATABASE}

        bare = pymysql.connect(**config, charset="utf8mb4")

        def bare_fetchall() -> tuple[Any, ...]:
            with bare.cursor() as cursor:
                cursor.execute(query, params)
                return cursor.fetchall()

        connector = PluginManager.get_plugin("mysql", **config)
        connector.execute_query("SELECT 1")  # pooled connection open, as in a running pipeline
        bare_fetchall()
        slow_base, base_rows = best_of(repeats, bare_fetchall)
        ours_time, frame = best_of(repeats, lambda: connector.execute_query(query, params))
        bare.close()
        PluginManager.cleanup()

    assert len(frame) == len(base_rows) == rows, (len(frame), len(base_rows))
    ratio = ours_time / slow_base
    verdict = "ok" if ratio <= TARGET else "ABOVE TARGET"
    print(f"{rows:,} rows x 5 columns, best of {repeats}")
    print(f"  bare pymysql execute + fetchall (tuples): {slow_base * 1000:8.1f} ms")
    print(f"  connector execute_query -> DataFrame:     {ours_time * 1000:8.1f} ms")
    print(f"  ratio: {ratio:.2f}x of bare fetchall (target <= {TARGET:g}x): {verdict}")
    print("reproduce: python benchmarks/bench_connector_mysql.py"
          + (" --quick" if args.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

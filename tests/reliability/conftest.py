"""Shared fixtures of the reliability suite: a 200-device fleet, its fault-free results, MariaDB."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pymysql
import pytest
from hypothesis import HealthCheck, settings

from meshinsights_connector_mysql.testing import INSTALL_HINT, MariaDBServer, find_binaries
from meshinsights_hvac.demo import generate_fleet

_spec = importlib.util.spec_from_file_location(
    "reliability_support", Path(__file__).with_name("reliability_support.py")
)
assert _spec is not None and _spec.loader is not None
support = importlib.util.module_from_spec(_spec)
sys.modules["reliability_support"] = support
_spec.loader.exec_module(support)

#: At least 1,000 examples per property in every run, CI's included; examples are kept small.
settings.register_profile(
    "meshinsights-reliability",
    max_examples=int(os.environ.get("MESHINSIGHTS_HYPOTHESIS_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
    derandomize=False,
    print_blob=True,
)

FLEET_DEVICES = 200
FLEET_DAYS = 1
FLEET_SEED = 11
MYSQL_USER = support.MYSQL_USER
MYSQL_PASSWORD = support.MYSQL_PASSWORD


@pytest.fixture(scope="session")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 devices x 1 day of generated telemetry (Parquet) and their devices.csv."""
    root = tmp_path_factory.mktemp("fleet")
    generate_fleet(FLEET_DEVICES, FLEET_DAYS, FLEET_SEED, root / "data")
    return root / "data"


@pytest.fixture(scope="session")
def fleet_power(fleet_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(fleet_dir / "power")


@pytest.fixture(scope="session")
def baseline(fleet_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The fault-free results: the fleet over the file connector, through the CLI."""
    work = tmp_path_factory.mktemp("baseline")
    support.write_config(
        work, "file.toml",
        {"plugin": "file", "root": str(fleet_dir), "tables": {"power": "power/*.parquet"}},
        devices_csv=str(fleet_dir / "devices.csv"),
    )
    result = support.cli("run", "file.toml", cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = support.read_summary(work / "out")
    assert summary["device_id"].nunique() == FLEET_DEVICES
    assert (summary["status"] != "failed").all()
    return summary


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    if find_binaries() is None:
        reason = f"MariaDB server binaries not found; {INSTALL_HINT}"
        if os.environ.get("MESHINSIGHTS_REQUIRE_MARIADB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"))
    server.start()
    try:
        server.create_user(MYSQL_USER, MYSQL_PASSWORD, "telemetry")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb_fleet(mariadb: MariaDBServer, fleet_power: pd.DataFrame) -> MariaDBServer:
    """The fleet's rows in ``telemetry.power`` on the session's MariaDB server."""
    mariadb.execute(
        "CREATE TABLE IF NOT EXISTS power (location_id VARCHAR(64), control_id VARCHAR(64),"
        " timestamp DATETIME(6), power_w DOUBLE, stage VARCHAR(8),"
        " KEY (location_id, control_id, timestamp))",
        database="telemetry",
    )
    rows = list(zip(
        fleet_power["location_id"], fleet_power["control_id"],
        fleet_power["timestamp"].dt.tz_convert(None).dt.to_pydatetime(),
        fleet_power["power_w"], fleet_power["stage"], strict=True,
    ))
    with pymysql.connect(host=mariadb.host, port=mariadb.port, user=MYSQL_USER,
                         password=MYSQL_PASSWORD, database="telemetry") as connection:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM power")
            for start in range(0, len(rows), 20_000):
                cursor.executemany("INSERT INTO power VALUES (%s, %s, %s, %s, %s)",
                                   rows[start:start + 20_000])
        connection.commit()
    return mariadb


@pytest.fixture(scope="session")
def mysql_env() -> dict[str, str]:
    return {"REL_MYSQL_PASSWORD": MYSQL_PASSWORD}


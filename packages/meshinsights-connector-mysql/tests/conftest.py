"""A real MariaDB server for the session, on 127.0.0.1 at a free port, data in a temp dir.

Without the MariaDB binaries the tests skip with the command that installs
them; with MESHINSIGHTS_REQUIRE_MARIADB=1 (set by CI) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from meshinsights import PluginManager
from meshinsights_connector_mysql.testing import INSTALL_HINT, MariaDBServer, find_binaries

DATABASE = "meshinsights_test"
USER, PASSWORD = "analyst", "analyst-Pw-7f3a9c"
OTHER_USER, OTHER_PASSWORD = "auditor", "auditor-Pw-51b2e0"
DEVICES = [f"dev-{i:02d}" for i in range(5)]
HOURS = 24

SCHEMA = (
    "CREATE TABLE power ("
    " id INT AUTO_INCREMENT PRIMARY KEY,"
    " device_id VARCHAR(32) NOT NULL,"
    " ts DATETIME(6) NOT NULL,"
    " power_kw DECIMAL(10,3) NULL,"
    " site VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,"
    " seen TIMESTAMP(3) NULL,"
    " KEY (device_id, ts))",
    # Hourly rows per device; NULL power at 03:00; microseconds kept; 4-byte UTF-8 in site.
    "INSERT INTO power (device_id, ts, power_kw, site, seen)"
    " WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 4),"
    " h(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM h WHERE n < 23)"
    " SELECT CONCAT('dev-0', d.n),"
    "  TIMESTAMPADD(MICROSECOND, 123456, TIMESTAMPADD(HOUR, h.n, '2024-01-01 00:00:00')),"
    "  IF(h.n = 3, NULL, d.n * 100 + h.n + 0.125),"
    "  CONCAT('Zürich 🌡 ', d.n),"
    "  IF(h.n = 0, '2024-01-01 00:00:00.500', NULL)"
    " FROM d CROSS JOIN h",
)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    if find_binaries() is None:
        reason = f"MariaDB server binaries (mariadbd, mariadb-install-db) not found; {INSTALL_HINT}"
        if os.environ.get("MESHINSIGHTS_REQUIRE_MARIADB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"))
    server.start()
    try:
        server.create_user(USER, PASSWORD, DATABASE)
        server.create_user(OTHER_USER, OTHER_PASSWORD, DATABASE)
        server.execute(*SCHEMA, database=DATABASE)
        yield server
    finally:
        server.stop()


@pytest.fixture
def mysql_config(mariadb: MariaDBServer) -> dict[str, Any]:
    return {"host": mariadb.host, "port": mariadb.port, "user": USER, "password": PASSWORD,
            "database": DATABASE, "connect_timeout": 5, "read_timeout": 30,
            "retries": 6, "retry_max_wait": 1.0}


@pytest.fixture
def other_mysql_config(mysql_config: dict[str, Any]) -> dict[str, Any]:
    """The same server and database as another user (other credentials)."""
    return {**mysql_config, "user": OTHER_USER, "password": OTHER_PASSWORD}


@pytest.fixture
def dataset() -> dict[str, Any]:
    """What the `power` table holds, for tests to compute expectations from."""
    return {"devices": DEVICES, "hours": HOURS, "null_hour": 3, "micro": 123456}


@pytest.fixture
def pooled() -> Iterator[None]:
    try:
        yield
    finally:
        PluginManager.cleanup()

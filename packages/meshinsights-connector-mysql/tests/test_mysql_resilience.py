"""Dropped connections, restarts, lock waits, timeouts, permanent errors, and the password."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from meshinsights import ConnectorError, PluginManager, retries
from meshinsights_connector_mysql import MySQLConnectionManager, MySQLConnector
from meshinsights_connector_mysql.testing import MariaDBServer, free_port

pytestmark = pytest.mark.usefixtures("pooled")

RETRY_LOG = "transient error"


@pytest.fixture
def retry_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="meshinsights_connector_mysql")
    return caplog


def test_server_killed_and_restarted_between_queries_reconnects(
    mysql_config: dict[str, Any], mariadb: MariaDBServer, retry_log: pytest.LogCaptureFixture
) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    before = connector.execute_query("SELECT CONNECTION_ID() AS cid")["cid"].iloc[0]
    assert connector.manager.idle_count == 1
    mariadb.kill()
    mariadb.start()
    frame = connector.execute_query(
        "SELECT CONNECTION_ID() AS cid, count(*) AS n FROM power WHERE device_id = %s", ["dev-01"]
    )
    assert frame["n"].tolist() == [24]
    assert connector.manager.opened == 2
    assert frame["cid"].iloc[0] != before or mariadb.running
    assert any(RETRY_LOG in r.getMessage() for r in retry_log.records)


def test_query_while_server_is_down_waits_for_the_restart(
    mysql_config: dict[str, Any], mariadb: MariaDBServer, retry_log: pytest.LogCaptureFixture
) -> None:
    # Enough retries to outlast the restart on a busy machine: with full jitter, six
    # attempts (the fixture's) can all be spent within half a second of the kill.
    connector = PluginManager.get_plugin("mysql", **{**mysql_config, "retries": 20})
    connector.execute_query("SELECT 1")
    mariadb.kill()
    restart = threading.Timer(0.6, mariadb.start)
    restart.start()
    try:
        frame = connector.execute_query("SELECT count(*) AS n FROM power")
    finally:
        restart.join()
    assert frame["n"].tolist() == [120]
    codes = " ".join(r.getMessage() for r in retry_log.records if RETRY_LOG in r.getMessage())
    assert "2003" in codes  # connection refused while the server was down, then retried


def test_lock_wait_timeout_is_retried_until_the_lock_is_released(
    mysql_config: dict[str, Any], mariadb: MariaDBServer, retry_log: pytest.LogCaptureFixture
) -> None:
    mariadb.execute("SET GLOBAL innodb_lock_wait_timeout = 1")
    holder = mariadb.root_connection("meshinsights_test")
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT * FROM power WHERE id = 1 FOR UPDATE")
        release = threading.Timer(1.5, holder.rollback)
        release.start()
        connector = PluginManager.get_plugin("mysql", **mysql_config)
        frame = connector.execute_query("SELECT id FROM power WHERE id = %s FOR UPDATE", [1])
        release.join()
    finally:
        holder.close()
        mariadb.execute("SET GLOBAL innodb_lock_wait_timeout = 50")
    assert frame["id"].tolist() == [1]
    assert any("1205" in r.getMessage() for r in retry_log.records)


def test_read_timeout_is_reported_and_not_retried(
    mysql_config: dict[str, Any], retry_log: pytest.LogCaptureFixture
) -> None:
    connector = PluginManager.get_plugin("mysql", **{**mysql_config, "read_timeout": 1})
    with pytest.raises(ConnectorError, match=r"2013.*timed out.*read_timeout = 1 s"):
        connector.execute_query("SELECT SLEEP(%s)", [3])
    assert not any(RETRY_LOG in r.getMessage() for r in retry_log.records)


def test_unreachable_server_fails_after_bounded_retries(
    mysql_config: dict[str, Any], retry_log: pytest.LogCaptureFixture
) -> None:
    config = {**mysql_config, "port": free_port(), "retries": 3, "retry_max_wait": 0.05}
    connector = PluginManager.get_plugin("mysql", **config)
    with pytest.raises(ConnectorError, match=r"failed after 3 attempts: OperationalError 2003"):
        connector.execute_query("SELECT 1")
    assert sum(RETRY_LOG in r.getMessage() for r in retry_log.records) == 2


def test_bad_sql_is_not_retried(
    mysql_config: dict[str, Any], retry_log: pytest.LogCaptureFixture
) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    with pytest.raises(ConnectorError, match=r"query failed: ProgrammingError 1064"):
        connector.execute_query("SELECT FROM WHERE")
    assert not any(RETRY_LOG in r.getMessage() for r in retry_log.records)


def test_access_denied_is_not_retried_and_never_shows_the_password(
    mysql_config: dict[str, Any], retry_log: pytest.LogCaptureFixture
) -> None:
    wrong = "Wrong-Password-9c1d"
    connector = PluginManager.get_plugin("mysql", **{**mysql_config, "password": wrong})
    with pytest.raises(ConnectorError) as info:
        connector.validate_connection()
    message = str(info.value)
    assert "1045" in message and "Access denied for user 'analyst'" in message
    assert "check `user` and the password" in message
    assert not any(RETRY_LOG in r.getMessage() for r in retry_log.records)
    shown = " ".join([message, repr(info.value.__cause__), repr(connector),
                      str(connector.get_metadata()), repr(connector.manager),
                      repr(connector.settings), retry_log.text])
    assert wrong not in shown
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_password_never_in_logs_reprs_metadata_or_errors(
    mysql_config: dict[str, Any], mariadb: MariaDBServer, retry_log: pytest.LogCaptureFixture
) -> None:
    password = mysql_config["password"]
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    connector.execute_query("SELECT 1")
    mariadb.kill()
    mariadb.start()
    connector.execute_query("SELECT 1")
    with pytest.raises(ConnectorError) as info:
        connector.execute_query("SELECT %s FROM nowhere", [password])
    assert password not in str(info.value)
    shown = " ".join([repr(connector), str(connector.get_metadata()), repr(connector.manager),
                      repr(connector.settings), retry_log.text,
                      str(PluginManager.pool_key("mysql", **mysql_config)),
                      connector.settings.pool_key])
    assert password not in shown
    assert retry_log.records  # there was something to look at


def test_identical_sessions_share_one_manager(
    mysql_config: dict[str, Any], other_mysql_config: dict[str, Any]
) -> None:
    first = MySQLConnector(**mysql_config)
    tuned = MySQLConnector(**{**mysql_config, "retries": 2})  # tuning, same session
    other = MySQLConnector(**other_mysql_config)
    try:
        assert first.manager is tuned.manager
        assert other.manager is not first.manager
        first.execute_query("SELECT 1")
        tuned.execute_query("SELECT 1")
        assert first.manager.opened == 1  # the second connector reused the pooled connection
        assert set(MySQLConnectionManager.active()) >= {first.manager, other.manager}
        manager = first.manager
        first.close()
        assert manager in MySQLConnectionManager.active()  # still used by `tuned`
        tuned.close()
        assert manager not in MySQLConnectionManager.active()
        assert manager.idle_count == 0
    finally:
        for connector in (first, tuned, other):
            connector.close()


def test_plugin_manager_pools_connectors_by_config(mysql_config: dict[str, Any]) -> None:
    first = PluginManager.get_plugin("mysql", **mysql_config)
    assert PluginManager.get_plugin("mysql", **dict(mysql_config)) is first
    other_db = PluginManager.get_plugin("mysql", **{**mysql_config, "database": "mysql"})
    assert other_db is not first
    assert first.manager is not other_db.manager  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"host": "h"}, "`user` is required"),
        ({"user": "u", "pasword": "x"}, "unknown config key.*pasword"),
        ({"user": "u", "port": "abc"}, "`port` must be a number"),
        ({"user": "u", "read_timeout": 0}, "`read_timeout` must be > 0"),
    ],
)
def test_config_errors(config: dict[str, Any], message: str) -> None:
    from meshinsights import ConfigError

    with pytest.raises(ConfigError, match=message):
        PluginManager.get_plugin("mysql", **config)


def test_connect_timeout_applies_to_a_silent_server(mysql_config: dict[str, Any]) -> None:
    import socket

    with socket.socket() as silent:  # accepts TCP but never speaks the protocol
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = {**mysql_config, "port": silent.getsockname()[1], "connect_timeout": 0.3,
                  "retries": 2, "retry_max_wait": 0.05}
        connector = PluginManager.get_plugin("mysql", **config)
        started = time.monotonic()
        expected = r"failed after 2 attempts.*2003.*no handshake within connect_timeout = 0.3 s"
        with pytest.raises(ConnectorError, match=expected):
            connector.execute_query("SELECT 1")
        # Bounded by connect_timeout, not by read_timeout (30 s): far apart, not a speed claim.
        assert time.monotonic() - started < mysql_config["read_timeout"] / 2


# -- retries counted for the run's manifest (meshinsights.retries) ---------------------------


def _wait_until_gone(mariadb: MariaDBServer, connection_id: int) -> None:
    """KILL returns before the thread is gone; wait so the next statement surely meets it dead."""
    root = mariadb.root_connection()
    try:
        for _ in range(200):
            with root.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s",
                               [connection_id])
                if cursor.fetchone() == (0,):
                    return
            time.sleep(0.01)
    finally:
        root.close()
    raise AssertionError(f"connection {connection_id} still listed after KILL")


def test_each_dropped_connection_is_one_counted_retry(
    mysql_config: dict[str, Any], mariadb: MariaDBServer, retry_log: pytest.LogCaptureFixture
) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    before = retries.snapshot()
    kills = 3
    for _ in range(kills):
        # The pooled connection is killed by the server; the next statement meets it dead.
        pooled = connector.execute_query("SELECT CONNECTION_ID() AS cid")["cid"].iloc[0]
        mariadb.execute(f"KILL {int(pooled)}")
        _wait_until_gone(mariadb, int(pooled))
        assert connector.execute_query("SELECT count(*) AS n FROM power")["n"].tolist() == [120]
    mysql = retries.snapshot().since(before)["mysql"]
    logged = [r for r in retry_log.records if RETRY_LOG in r.getMessage()]
    assert mysql.calls == 2 * kills
    assert mysql.retries == kills == len(logged)
    assert mysql.calls_retried == kills and mysql.calls_by_attempts == {2: kills}
    assert mysql.gave_up == 0
    assert set(mysql.reasons) <= {"2006", "2013", "InterfaceError"}  # lost or gone away
    assert sum(mysql.reasons.values()) == kills
    assert mysql.bounds == retries.RetryBounds(
        max_attempts=mysql_config["retries"], max_seconds=60.0,
        max_wait_seconds=(mysql_config["retries"] - 1) * mysql_config["retry_max_wait"])
    assert 0 <= mysql.wait_seconds <= kills * mysql_config["retry_max_wait"]
    assert mysql_config["password"] not in repr(mysql)


def test_an_unreachable_server_is_counted_as_retries_then_a_give_up(
    mysql_config: dict[str, Any], retry_log: pytest.LogCaptureFixture
) -> None:
    config = {**mysql_config, "port": free_port(), "retries": 4, "retry_max_wait": 0.05}
    connector = PluginManager.get_plugin("mysql", **config)
    before = retries.snapshot()
    with pytest.raises(ConnectorError, match="failed after 4 attempts"):
        connector.execute_query("SELECT 1")
    mysql = retries.snapshot().since(before)["mysql"]
    assert (mysql.calls, mysql.retries, mysql.gave_up) == (1, 3, 1)
    assert dict(mysql.reasons) == {"2003": 3}
    assert mysql.bounds is not None
    assert mysql.longest_attempts == mysql.bounds.max_attempts == 4
    assert mysql.wait_seconds <= 3 * 0.05 + 1e-9


def test_retrying_stops_at_the_time_cap_before_the_attempts_run_out(
    mysql_config: dict[str, Any], retry_log: pytest.LogCaptureFixture
) -> None:
    """``retry_max_seconds`` bounds a statement in time whatever ``retries`` allows."""
    config = {**mysql_config, "port": free_port(), "retries": 1000, "retry_max_wait": 0.2,
              "retry_max_seconds": 0.5}
    connector = PluginManager.get_plugin("mysql", **config)
    before = retries.snapshot()
    started = time.monotonic()
    with pytest.raises(ConnectorError, match=r"failed after \d+ attempts: OperationalError 2003"):
        connector.execute_query("SELECT 1")
    elapsed = time.monotonic() - started
    mysql = retries.snapshot().since(before)["mysql"]
    assert mysql.gave_up == 1
    assert 2 <= mysql.longest_attempts < 1000
    assert mysql.bounds is not None and mysql.bounds.max_seconds == 0.5
    assert elapsed < 0.5 + 0.2 + 5.0  # the cap, one last wait, and slack for a loaded machine


def test_statements_that_fail_for_good_are_not_counted_as_retries(
    mysql_config: dict[str, Any],
) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    before = retries.snapshot()
    with pytest.raises(ConnectorError):
        connector.execute_query("SELECT FROM WHERE")
    mysql = retries.snapshot().since(before)["mysql"]
    assert mysql.calls == 1 and not mysql.active

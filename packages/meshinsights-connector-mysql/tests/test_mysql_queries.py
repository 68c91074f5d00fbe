"""Queries against the real server: parameters, types, streaming, threads."""

from __future__ import annotations

import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest

from meshinsights import ConnectorError, PluginManager
from meshinsights_connector_mysql.testing import MariaDBServer

pytestmark = pytest.mark.usefixtures("pooled")


def test_types_datetime6_decimal_nulls_and_utf8mb4(
    mysql_config: dict[str, Any], dataset: dict[str, Any]
) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    frame = connector.execute_query(
        "SELECT device_id, ts, power_kw, site, seen FROM power WHERE device_id = %s ORDER BY ts",
        ["dev-02"],
    )
    assert len(frame) == dataset["hours"]
    assert frame["ts"].dtype == "datetime64[us]"
    assert frame["ts"].iloc[1] == pd.Timestamp("2024-01-01 01:00:00.123456")
    assert frame["power_kw"].dtype == np.float64
    assert frame["power_kw"].iloc[1] == pytest.approx(201.125)
    assert frame["power_kw"].isna().tolist() == [h == dataset["null_hour"] for h in range(24)]
    assert frame["site"].iloc[0] == "Zürich 🌡 2"
    assert pd.api.types.is_string_dtype(frame["site"])
    # TIMESTAMP columns are UTC instants: tz-aware, NULLs as NaT.
    assert isinstance(frame["seen"].dtype, pd.DatetimeTZDtype)
    assert frame["seen"].iloc[0] == pd.Timestamp("2024-01-01 00:00:00.500", tz="UTC")
    assert frame["seen"].iloc[1:].isna().all()


def test_datetimes_parsed_by_column_equal_pymysqls_own(
    mysql_config: dict[str, Any], mariadb: MariaDBServer
) -> None:
    """TIMESTAMP and DATETIME arrive as text and are parsed by column: the same instants as
    pymysql's per-value datetimes, microseconds and NULLs included."""
    import pymysql

    query = "SELECT ts, seen FROM power ORDER BY id"
    frame = PluginManager.get_plugin("mysql", **mysql_config).execute_query(query)
    connection = mariadb.root_connection(database=mysql_config["database"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET time_zone = '+00:00'")
            cursor.execute(query)
            rows = cursor.fetchall()
    finally:
        connection.close()
    assert isinstance(rows[0][0], datetime)  # the bare connection's own converters
    assert frame["ts"].dtype == "datetime64[us]"
    assert frame["ts"].tolist() == [pd.Timestamp(ts) for ts, _ in rows]
    assert frame["seen"].dtype == "datetime64[us, UTC]"
    assert [None if pd.isna(v) else v for v in frame["seen"]] == [
        None if seen is None else pd.Timestamp(seen, tz="UTC") for _, seen in rows]
    # pymysql's own table is left as it was (the connector uses a copy)
    converters = pymysql.converters
    assert converters.conversions[pymysql.constants.FIELD_TYPE.DATETIME] is (
        converters.convert_datetime)


def test_a_zero_datetime_is_missing_and_the_far_future_kept(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    frame = connector.execute_query(
        "SELECT CAST('0000-00-00 00:00:00' AS DATETIME) AS zero, "
        "CAST('2024-02-29 23:59:59.000001' AS DATETIME(6)) AS leap, "
        "CAST('9999-12-31 23:59:59' AS DATETIME) AS open_end"
    )
    assert frame["zero"].isna().all()
    assert frame["leap"].iloc[0] == pd.Timestamp("2024-02-29 23:59:59.000001")
    assert frame["open_end"].iloc[0] == pd.Timestamp("9999-12-31 23:59:59")  # past 2262: "us"


def test_utf8mb4_value_as_parameter_round_trips(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    frame = connector.execute_query(
        "SELECT count(*) AS n FROM power WHERE site = %(site)s", {"site": "Zürich 🌡 4"}
    )
    assert frame["n"].tolist() == [24]


def test_empty_result_keeps_column_dtypes(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    frame = connector.execute_query(
        "SELECT id, device_id, ts, power_kw, seen FROM power WHERE device_id = %s", ["none"]
    )
    assert len(frame) == 0
    assert frame["id"].dtype == np.int64
    assert frame["ts"].dtype.kind == "M"
    assert frame["power_kw"].dtype == np.float64
    assert isinstance(frame["seen"].dtype, pd.DatetimeTZDtype)
    assert pd.api.types.is_string_dtype(frame["device_id"])


def test_list_parameter_expands_for_in(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    devices = ["dev-00", "dev-03", "not-a-device"]
    frame = connector.execute_query(
        "SELECT device_id, count(*) AS n FROM power WHERE device_id IN %(devices)s "
        "GROUP BY device_id ORDER BY device_id",
        {"devices": devices},
    )
    assert frame["device_id"].tolist() == ["dev-00", "dev-03"]
    assert frame["n"].tolist() == [24, 24]
    assert devices == ["dev-00", "dev-03", "not-a-device"]
    positional = connector.execute_query(
        "SELECT count(*) AS n FROM power WHERE device_id IN %s", [np.array(["dev-01", "dev-04"])]
    )
    assert positional["n"].tolist() == [48]


def test_empty_list_is_a_clear_error(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    with pytest.raises(ConnectorError, match="parameter devices is an empty list"):
        connector.execute_query("SELECT 1 FROM power WHERE device_id IN %(devices)s",
                                {"devices": []})


@pytest.mark.parametrize("payload", ["' OR 1=1 --", "dev-01' OR '1'='1", "dev-01'; DROP TABLE power; --"])
def test_injection_attempt_is_only_data(mysql_config: dict[str, Any], payload: str) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    assert len(connector.execute_query(
        "SELECT * FROM power WHERE device_id = %s", [payload])) == 0
    assert len(connector.execute_query(
        "SELECT * FROM power WHERE device_id IN %(d)s", {"d": [payload, "x"]})) == 0
    assert connector.execute_query("SELECT count(*) AS n FROM power")["n"].tolist() == [120]


def test_tz_aware_parameters_are_compared_in_utc(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    plus_two = timezone(timedelta(hours=2))
    frame = connector.execute_query(
        "SELECT count(*) AS n FROM power WHERE device_id = %s AND ts >= %s AND ts < %s",
        ("dev-00", datetime(2024, 1, 1, 2, 0, tzinfo=plus_two),
         pd.Timestamp("2024-01-01 06:00", tz="UTC")),
    )
    assert frame["n"].tolist() == [6]  # 00:00 UTC .. 05:00 UTC


def test_iter_query_streams_bounded_chunks(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    query = "SELECT * FROM power WHERE device_id <> %s ORDER BY id"
    chunks = list(connector.iter_query(query, ["dev-00"], chunksize=25))
    assert [len(c) for c in chunks] == [25, 25, 25, 21]
    whole = connector.execute_query(query, ["dev-00"])
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_streaming_memory_does_not_grow_with_the_result(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    # 120 x 100 = 12,000 rows, generated by the server.
    query = ("SELECT p.device_id, p.ts, p.site, a.n FROM power p"
             " CROSS JOIN (SELECT seq AS n FROM seq_1_to_100) a WHERE p.device_id <> %s")
    tracemalloc.start()
    try:
        rows = 0
        for chunk in connector.iter_query(query, ["none"], chunksize=500):
            rows += len(chunk)
        _, streamed_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        whole = connector.execute_query(query, ["none"])
        _, buffered_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == len(whole) == 12_000
    assert streamed_peak * 5 < buffered_peak, (streamed_peak, buffered_peak)


def test_abandoned_stream_does_not_poison_the_pool(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    stream = connector.iter_query("SELECT * FROM power", chunksize=10)
    assert len(next(stream)) == 10
    stream.close()
    assert connector.execute_query("SELECT count(*) AS n FROM power")["n"].tolist() == [120]


def test_threads_get_their_own_connections(mysql_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)

    def query(i: int) -> tuple[str, int, int]:
        device = f"dev-0{i % 5}"
        frame = connector.execute_query(
            "SELECT device_id, CONNECTION_ID() AS cid, SLEEP(0.01) AS s FROM power "
            "WHERE device_id = %s", [device])
        assert set(frame["device_id"]) == {device}
        return device, len(frame), int(frame["cid"].iloc[0])

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(query, range(30)))
    assert {n for _, n, _ in results} == {24}
    connections = {cid for _, _, cid in results}
    assert 1 < len(connections) <= 6
    assert connector.manager.opened == len(connections)


def test_statement_errors_name_the_server_and_keep_the_connection(
    mysql_config: dict[str, Any], mariadb: MariaDBServer
) -> None:
    connector = PluginManager.get_plugin("mysql", **mysql_config)
    connector.execute_query("SELECT 1")
    with pytest.raises(ConnectorError, match=r"analyst@127\.0\.0\.1:\d+/meshinsights_test.*1064"):
        connector.execute_query("SELEC * FROM power")
    with pytest.raises(ConnectorError, match=r"1146.*no_such_table"):
        connector.execute_query("SELECT * FROM no_such_table")
    connector.execute_query("SELECT 1")
    assert connector.manager.opened == 1

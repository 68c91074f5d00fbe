"""Queries through the file connector: parameters, views, dtypes, threads, pushdown."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from meshinsights import ConnectorError, PluginManager
from meshinsights_connector_file import FileConnector

pytestmark = pytest.mark.usefixtures("pooled")


def test_named_and_positional_parameters_select_the_same_rows(
    file_config: dict[str, Any],
) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    named = connector.execute_query(
        "SELECT * FROM power WHERE device_id = $d AND timestamp < $t1 ORDER BY timestamp",
        {"d": "dev-02", "t1": pd.Timestamp("2024-01-01 06:00", tz="UTC")},
    )
    positional = connector.execute_query(
        "SELECT * FROM power WHERE device_id = ? AND timestamp < ? ORDER BY timestamp",
        ["dev-02", pd.Timestamp("2024-01-01 06:00", tz="UTC")],
    )
    assert len(named) == 6
    assert set(named["device_id"]) == {"dev-02"}
    pd.testing.assert_frame_equal(named, positional)


def test_a_list_parameter_selects_several_devices(file_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    devices = ("dev-00", "dev-03", "no-such-device")
    frame = connector.execute_query(
        "SELECT device_id, count(*) AS n FROM power WHERE device_id = ANY($devices) "
        "GROUP BY device_id ORDER BY device_id",
        {"devices": devices},
    )
    assert frame["device_id"].tolist() == ["dev-00", "dev-03"]
    assert frame["n"].tolist() == [48, 48]
    assert devices == ("dev-00", "dev-03", "no-such-device")


def test_dtypes_utc_timestamps_stay_tz_aware_and_nulls_are_nan(
    file_config: dict[str, Any],
) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    frame = connector.execute_query(
        "SELECT * FROM power WHERE device_id = $d ORDER BY timestamp", {"d": "dev-00"}
    )
    assert isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype)
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert frame["power_kw"].dtype == np.float64
    assert frame["power_kw"].isna().sum() == 2  # one NULL per day file
    assert frame["site"].iloc[0] == "Zürich-0"
    assert pd.api.types.is_string_dtype(frame["device_id"])


def test_csv_view_and_join_with_parquet(file_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    frame = connector.execute_query(
        "SELECT d.floor, max(p.power_kw) AS peak FROM power p JOIN devices d USING (device_id) "
        "WHERE d.floor >= $floor GROUP BY d.floor ORDER BY d.floor",
        {"floor": 4},
    )
    assert frame["floor"].tolist() == [4, 5]
    expected = pd.concat(
        [pd.read_parquet(p) for p in sorted(Path(file_config["root"]).glob("power/*.parquet"))]
    )
    peaks = expected.groupby("device_id")["power_kw"].max()
    assert frame["peak"].tolist() == [peaks["dev-04"], peaks["dev-05"]]


def test_files_inside_the_root_are_read_by_absolute_path(data_root: Path) -> None:
    connector = PluginManager.get_plugin("file", root=str(data_root))
    frame = connector.execute_query(
        "SELECT count(*) AS n FROM read_parquet($files)",
        {"files": [str(data_root / "power" / "2024-01-01.parquet")]},
    )
    assert frame["n"].tolist() == [6 * 24]
    glob = connector.execute_query(f"SELECT count(*) AS n FROM '{data_root}/power/*.parquet'")
    assert glob["n"].tolist() == [2 * 6 * 24]


def test_directory_table_reads_every_parquet_file_below(data_root: Path) -> None:
    connector = PluginManager.get_plugin("file", root=str(data_root), tables={"power": "power"})
    assert connector.execute_query("SELECT count(*) AS n FROM power")["n"].tolist() == [288]


def test_table_with_explicit_format(data_root: Path) -> None:
    (data_root / "devices.dat").write_text("device_id,floor\nx,1\ny,2\n")
    connector = PluginManager.get_plugin(
        "file", root=str(data_root), tables={"d": {"path": "devices.dat", "format": "csv"}}
    )
    assert connector.execute_query("SELECT floor FROM d ORDER BY floor")["floor"].tolist() == [1, 2]


def test_filters_are_pushed_into_the_parquet_scan(file_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    plan = connector.execute_query(
        "EXPLAIN SELECT * FROM power WHERE device_id = $d", {"d": "dev-01"}
    )
    text = "\n".join(plan.astype(str).to_numpy().ravel())
    scan = text[text.index("READ_PARQUET"):]
    assert re.search(r"Filters:\s*device_id\s*=\s*'dev-01'", scan), text
    assert not re.search(r"─\s*FILTER\s*─", text, re.IGNORECASE), text


def test_each_thread_queries_through_its_own_cursor(file_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    database, cursor = connector.connect()

    def query(device: str) -> tuple[int, int, int]:
        frame = connector.execute_query(
            "SELECT count(*) AS n FROM power WHERE device_id = $d", {"d": device}
        )
        db, own = connector.connect()
        return int(frame["n"].iloc[0]), id(db), id(own)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(query, [f"dev-{i % 6:02d}" for i in range(24)]))
    assert {n for n, _, _ in results} == {48}
    assert {db for _, db, _ in results} == {id(database)}
    assert id(cursor) not in {own for _, _, own in results}
    assert len({own for _, _, own in results}) <= 4


def test_pooled_once_per_config_and_reopened_after_close(file_config: dict[str, Any]) -> None:
    first = PluginManager.get_plugin("file", **file_config)
    assert PluginManager.get_plugin("file", **dict(file_config)) is first
    assert isinstance(first, FileConnector)
    first.close()
    assert len(first.execute_query("SELECT * FROM power LIMIT 3")) == 3


def test_only_single_read_statements_run(file_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    for sql in ("DROP VIEW power", "SELECT 1; DROP VIEW power", "CREATE TABLE t AS SELECT 1"):
        with pytest.raises(ConnectorError, match="exactly one SELECT"):
            connector.execute_query(sql)
    assert len(connector.execute_query("SELECT * FROM power")) == 288


def test_validate_connection_checks_root_and_views(
    file_config: dict[str, Any], data_root: Path
) -> None:
    assert PluginManager.get_plugin("file", **file_config).validate_connection() is True
    missing_root = PluginManager.get_plugin("file", root=str(data_root / "nope"))
    with pytest.raises(ConnectorError, match=r"root .*nope.* is not a directory"):
        missing_root.validate_connection()
    bad_view = PluginManager.get_plugin(
        "file", root=str(data_root), tables={"energy": "energy/*.parquet"}
    )
    with pytest.raises(ConnectorError, match=r"table 'energy'.*energy/\*\.parquet.*no such file"):
        bad_view.validate_connection()


def test_metadata_names_root_and_tables(file_config: dict[str, Any]) -> None:
    meta = PluginManager.get_plugin("file", **file_config).get_metadata()
    assert meta["plugin"] == "file"
    assert meta["tables"]["power"] == {"path": "power/*.parquet", "format": "parquet"}
    assert meta["tables"]["devices"]["format"] == "csv"


def test_a_parquet_file_rewritten_between_queries_is_read_again(
    file_config: dict[str, Any], data_root: Path
) -> None:
    """Footers are cached across queries, but never past a change to the file."""
    connector = PluginManager.get_plugin("file", **file_config)
    query = "SELECT count(*) AS n, max(power_kw) AS top FROM power WHERE device_id = $d"
    before = connector.execute_query(query, {"d": "dev-01"})
    assert before["n"].tolist() == [48]
    path = data_root / "power" / "2024-01-02.parquet"
    day = pd.read_parquet(path)
    next_day = day.assign(timestamp=day["timestamp"] + pd.Timedelta(days=1))
    grown = pd.concat([day, next_day], ignore_index=True)
    grown.loc[grown["device_id"] == "dev-01", "power_kw"] = 999.0
    grown.to_parquet(path, index=False, row_group_size=10)
    os.utime(path, (time.time() + 5, time.time() + 5))  # a new mtime even on coarse clocks
    after = connector.execute_query(query, {"d": "dev-01"})
    assert after["n"].tolist() == [72]
    assert after["top"].tolist() == [999.0]


# Every type the Arrow path takes, with and without NULLs, next to text columns.
_TYPED_ROWS = """
SELECT * FROM (VALUES
  (1::INTEGER, NULL::INTEGER, 1.5::DOUBLE, 2.25::DECIMAL(10, 2), DATE '2024-01-02',
   TIMESTAMP '2024-01-02 03:04:05.123456', TIMESTAMPTZ '2024-01-02 03:04:05.123456+00',
   'Zürich', true, NULL::BOOLEAN, INTERVAL 3 MINUTE, 5::BIGINT, 7::UTINYINT, 1.5::FLOAT,
   TIMESTAMP_NS '2024-01-02 03:04:05.123456789', 3::SMALLINT, NULL::VARCHAR),
  (2, 3, NULL, NULL, NULL, NULL, NULL, NULL, false, true, NULL, NULL, NULL, NULL, NULL, NULL, 'x')
) t(i, i_null, d, dec, dt, ts, tstz, s, b, b_null, iv, bi, ut, f, tsns, si, s_null)
WHERE i >= $min
"""


@pytest.mark.parametrize("query", [
    _TYPED_ROWS,
    "SELECT device_id, timestamp, power_kw, site FROM power WHERE device_id = $d",
])
def test_text_columns_through_arrow_keep_every_type_of_duckdb_df(
    file_config: dict[str, Any], query: str
) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    parameters = {"min": 0} if "$min" in query else {"d": "dev-01"}
    frame = connector.execute_query(query, parameters)
    _, cursor = connector.connect()
    expected = cursor.execute(query, parameters).df()  # DuckDB's own conversion
    assert len(frame) > 0
    pd.testing.assert_frame_equal(frame, expected)
    text = [c for c in frame.columns if c in ("s", "s_null", "device_id", "site")]
    assert text and all(frame[c].dtype == "str" for c in text)


def test_types_outside_the_arrow_path_go_through_duckdb_df(file_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    frame = connector.execute_query(
        "SELECT 'x'::ENUM('x', 'y') AS e, 'a' AS s, '00000000-0000-0000-0000-000000000001'::UUID AS u"
    )
    assert isinstance(frame["e"].dtype, pd.CategoricalDtype)
    assert str(frame.loc[0, "u"]) == "00000000-0000-0000-0000-000000000001"
    assert frame.loc[0, "s"] == "a"

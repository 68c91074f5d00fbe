"""The root is a hard boundary, and bad files are reported by name and cause."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from meshinsights import ConfigError, ConnectorError, PluginManager

pytestmark = pytest.mark.usefixtures("pooled")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('../outside/secret.parquet')",
        "SELECT * FROM '../outside/secret.parquet'",
        "SELECT * FROM read_parquet('{root}/../outside/secret.parquet')",
        "SELECT * FROM read_parquet('{root}/power/../../outside/secret.parquet')",
        "SELECT * FROM '{tmp}/outside/secret.parquet'",
        "SELECT * FROM '{tmp}/outside/*.parquet'",
        "SELECT * FROM '{tmp}/root-other/x.parquet'",
        "SELECT * FROM read_csv('/etc/passwd', sep = ':')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM glob('{tmp}/*')",
        "SELECT * FROM 'power/2024-01-01.parquet'",
    ],
)
def test_sql_cannot_read_outside_the_root(
    file_config: dict[str, Any], data_root: Path, sql: str
) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    query = sql.format(root=data_root, tmp=data_root.parent)
    with pytest.raises(ConnectorError, match=r"refused: .*only files under the root") as info:
        connector.execute_query(query)
    assert str(data_root) in str(info.value)


def test_a_path_parameter_cannot_leave_the_root(file_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    with pytest.raises(ConnectorError, match=r"refused: file '\.\./outside/secret\.parquet'"):
        connector.execute_query(
            "SELECT * FROM read_parquet($f)", {"f": "../outside/secret.parquet"}
        )


@pytest.mark.parametrize(
    "statement",
    [
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "RESET lock_configuration",
        "COPY (SELECT 1) TO 'x.csv'",
        "ATTACH '/tmp/x.duckdb'",
        "INSTALL httpfs",
    ],
)
def test_queries_cannot_lift_the_boundary(file_config: dict[str, Any], statement: str) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    with pytest.raises(ConnectorError):
        connector.execute_query(statement)
    # Even straight on the shared DuckDB connection, the configuration is locked.
    database, _ = connector.connect()
    with pytest.raises(duckdb.Error, match=r"locked|disabled|Permission"):
        database.execute(statement)


def test_python_objects_are_not_queryable_by_name(file_config: dict[str, Any]) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    secret_frame = pd.DataFrame({"secret": [1]})
    with pytest.raises(ConnectorError, match="secret_frame"):
        connector.execute_query("SELECT * FROM secret_frame")
    assert not secret_frame.empty


@pytest.mark.parametrize(
    "tables",
    [
        {"x": "../outside/*.parquet"},
        {"x": "/etc/passwd.csv"},
        {"x": "power/../../outside/secret.parquet"},
    ],
)
def test_tables_outside_the_root_are_config_errors(data_root: Path, tables: Any) -> None:
    with pytest.raises(ConfigError, match=r"table 'x': path .* is outside the root"):
        PluginManager.get_plugin("file", root=str(data_root), tables=tables)


def test_a_symlink_out_of_the_root_is_refused(data_root: Path) -> None:
    (data_root / "escape").symlink_to(data_root.parent / "outside")
    with pytest.raises(ConfigError, match="outside the root"):
        PluginManager.get_plugin("file", root=str(data_root), tables={"x": "escape/*.parquet"})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "`root`.* is required"),
        ({"root": "."}, None),
        ({"root": ".", "tabels": {}}, "unknown config key.*tabels"),
        ({"root": ".", "tables": ["power"]}, "`tables` must be a table"),
        ({"root": ".", "tables": {"bad name": "x.parquet"}}, "not a plain SQL identifier"),
        ({"root": ".", "tables": {"x": "x.json"}}, "cannot tell the format"),
        ({"root": ".", "tables": {"x": {"path": "x", "format": "xls"}}}, "format 'xls'"),
    ],
)
def test_config_errors_name_the_key(
    config: dict[str, Any], message: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    if message is None:
        PluginManager.get_plugin("file", **config)
        return
    with pytest.raises(ConfigError, match=message):
        PluginManager.get_plugin("file", **config)


def test_missing_file_is_named(file_config: dict[str, Any], data_root: Path) -> None:
    connector = PluginManager.get_plugin("file", **file_config)
    with pytest.raises(ConnectorError, match=r"file 'power/2023-12-31\.parquet': no such file"):
        connector.execute_query(f"SELECT * FROM '{data_root}/power/2023-12-31.parquet'")


def test_corrupt_parquet_is_named_with_its_cause(data_root: Path) -> None:
    good = (data_root / "power" / "2024-01-01.parquet").read_bytes()
    (data_root / "power" / "2024-01-03.parquet").write_bytes(good[: len(good) // 2])
    connector = PluginManager.get_plugin(
        "file", root=str(data_root), tables={"power": "power/*.parquet"}
    )
    with pytest.raises(
        ConnectorError, match=r"file 'power/2024-01-03\.parquet': unreadable or corrupt Parquet"
    ) as info:
        connector.execute_query("SELECT count(*) FROM power")
    assert "magic bytes" in str(info.value) or "footer" in str(info.value).lower()


def test_garbage_parquet_view_fails_on_connect_naming_the_table(data_root: Path) -> None:
    (data_root / "junk.parquet").write_bytes(b"PAR1 this is not parquet at all PAR1")
    connector = PluginManager.get_plugin("file", root=str(data_root), tables={"j": "junk.parquet"})
    with pytest.raises(
        ConnectorError, match=r"table 'j' \('junk.parquet'\).*file 'junk.parquet'.*corrupt Parquet"
    ):
        connector.connect()


def test_csv_with_mixed_types_names_file_line_and_column(data_root: Path) -> None:
    rows = "".join(f"d{i},{i}\n" for i in range(30_000))
    (data_root / "mixed.csv").write_text("device_id,value\n" + rows + "d-last,not-a-number\n")
    connector = PluginManager.get_plugin("file", root=str(data_root), tables={"m": "mixed.csv"})
    with pytest.raises(ConnectorError) as info:
        connector.execute_query("SELECT sum(value) FROM m")
    message = str(info.value)
    assert "file 'mixed.csv'" in message
    assert "CSV with mixed types" in message
    assert "not-a-number" in message and '"value"' in message

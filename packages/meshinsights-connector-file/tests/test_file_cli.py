"""`meshinsights validate` with `plugin = "file"` probes the connector through the CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from click.testing import CliRunner

import meshinsights_connector_file.plugin as file_plugin
from meshinsights import Solution, hookimpl
from meshinsights.cli import main
from meshinsights.testing import isolated_host


def _no_sources(device: Any) -> dict[str, Any]:
    return {}


def _no_processors(device: Any) -> list[Any]:
    return []


@hookimpl
def register_solutions(register: Any) -> None:
    register("file-probe", Solution("file-probe", _no_sources, _no_sources, _no_processors))


PROBE = SimpleNamespace(register_solutions=register_solutions)


def _validate(tmp_path: Path, connection: str) -> Any:
    config = tmp_path / "run.toml"
    config.write_text(textwrap.dedent("""
        [pipeline]
        solution = "file-probe"
        [devices]
        inline = [{device_id = "dev-01"}]
    """) + connection)
    with isolated_host(file_plugin, PROBE):
        return CliRunner().invoke(main, ["validate", str(config)])


def test_validate_reads_the_views(tmp_path: Path, data_root: Path) -> None:
    result = _validate(tmp_path, textwrap.dedent(f"""
        [connection]
        plugin = "file"
        root = "{data_root}"
        tables = {{ power = "power/*.parquet", devices = "devices.csv" }}
    """))
    assert result.exit_code == 0, result.output
    assert "connector file reachable" in result.output


def test_validate_reports_a_missing_view_file(tmp_path: Path, data_root: Path) -> None:
    result = _validate(tmp_path, textwrap.dedent(f"""
        [connection]
        plugin = "file"
        root = "{data_root}"
        tables = {{ energy = "energy/*.parquet" }}
    """))
    assert result.exit_code == 2
    assert "table 'energy'" in result.output and "no such file" in result.output

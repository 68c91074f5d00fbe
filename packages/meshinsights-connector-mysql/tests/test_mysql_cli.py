"""`meshinsights validate` with `plugin = "mysql"` and the password from the environment."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

import meshinsights_connector_mysql.plugin as mysql_plugin
from meshinsights import Solution, hookimpl
from meshinsights.cli import main
from meshinsights.testing import isolated_host


def _no_sources(device: Any) -> dict[str, Any]:
    return {}


def _no_processors(device: Any) -> list[Any]:
    return []


@hookimpl
def register_solutions(register: Any) -> None:
    register("mysql-probe", Solution("mysql-probe", _no_sources, _no_sources, _no_processors))


PROBE = SimpleNamespace(register_solutions=register_solutions)


def _validate(tmp_path: Path, config: dict[str, Any]) -> Any:
    path = tmp_path / "run.toml"
    path.write_text(textwrap.dedent(f"""
        [pipeline]
        solution = "mysql-probe"
        [devices]
        inline = [{{device_id = "dev-01"}}]
        [connection]
        plugin = "mysql"
        host = "{config['host']}"
        port = {config['port']}
        user = "{config['user']}"
        password = "${{MYSQL_PASSWORD}}"
        database = "{config['database']}"
        connect_timeout = 5
        read_timeout = 30
    """))
    with isolated_host(mysql_plugin, PROBE):
        return CliRunner().invoke(main, ["validate", str(path)])


def test_validate_round_trips_with_the_password_from_the_environment(
    tmp_path: Path, mysql_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYSQL_PASSWORD", mysql_config["password"])
    result = _validate(tmp_path, mysql_config)
    assert result.exit_code == 0, result.output
    assert "connector mysql reachable" in result.output


def test_validate_with_a_wrong_password_names_the_cause_not_the_password(
    tmp_path: Path, mysql_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYSQL_PASSWORD", "Not-The-Password-77")
    result = _validate(tmp_path, mysql_config)
    assert result.exit_code == 2
    assert "1045" in result.output and "Access denied" in result.output
    assert "Not-The-Password-77" not in result.output

"""A plugin package never seen by the project, pip-installed for real, then removed.

Covers entry-point discovery, isolation of a plugin that fails to import or
implements an unknown hook, strict mode, disabling by name, ``extra_processors``
and the ``meshinsights`` CLI's exit codes.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshinsights import DeviceUnit, Pipeline, PipelineConfig
from meshinsights.plugins import PluginHost, use_host

SAMPLE = Path(__file__).parent / "sample_plugin"
DIST = "meshinsights-sample-plugin"


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True, capture_output=True, text=True,
    )


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MESHINSIGHTS_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "meshinsights.cli", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120,
    )


@pytest.fixture(scope="module")
def installed_sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Build the sample package from a copy and pip-install it; uninstall afterwards."""
    source = tmp_path_factory.mktemp("sample") / "pkg"
    shutil.copytree(SAMPLE, source)
    _pip("install", "--no-deps", "--no-build-isolation", str(source))
    importlib.invalidate_caches()  # this process must see the new distribution
    try:
        yield
    finally:
        _pip("uninstall", "-y", DIST)


def _plugins_json(env: dict[str, str] | None = None) -> dict[str, dict]:
    result = _cli("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return {row["plugin"]: row for row in json.loads(result.stdout)}


@pytest.mark.usefixtures("installed_sample")
class TestInstalledPlugin:
    def test_discovered_with_distribution_version_and_registrations(self) -> None:
        rows = _plugins_json()
        sample = rows["sample"]
        assert sample["distribution"] == DIST
        assert sample["version"] == "1.2.3"
        assert sample["status"] == "ok"
        assert sample["registered"] == {"processors": ["sample_marker"], "solutions": ["sample-sum"]}
        assert rows["memory"]["registered"] == {"connectors": ["memory"]}

    def test_broken_plugins_are_reported_and_the_rest_works(self) -> None:
        rows = _plugins_json()
        assert rows["sample_broken"]["status"] == "error"
        assert "cannot import its backend library" in rows["sample_broken"]["error"]
        assert "Traceback" in rows["sample_broken"]["error"]
        assert rows["sample_nospec"]["status"] == "error"
        assert "register_widgets" in rows["sample_nospec"]["error"]
        assert rows["sample"]["status"] == "ok"

    def test_table_output_shows_the_error(self) -> None:
        result = _cli("plugins")
        assert result.returncode == 0
        assert "sample_broken" in result.stdout
        assert "error" in result.stdout

    def test_strict_mode_fails_naming_the_plugins(self) -> None:
        for strict in (["--strict"], []):
            env = {} if strict else {"MESHINSIGHTS_STRICT_PLUGINS": "1"}
            result = _cli(*strict, "plugins", env=env)
            assert result.returncode == 2
            assert "sample_broken" in result.stderr
            assert DIST in result.stderr

    def test_disabled_plugins_are_blocked(self) -> None:
        env = {"MESHINSIGHTS_DISABLE_PLUGINS": "sample_broken, sample_nospec"}
        rows = _plugins_json(env)
        assert rows["sample_broken"]["status"] == "blocked"
        assert rows["sample_nospec"]["status"] == "blocked"
        result = _cli("--strict", "plugins", "--json", env=env)
        assert result.returncode == 0

    def test_extra_processor_runs_in_a_pipeline(self) -> None:
        with use_host(PluginHost(disabled=(), strict=False)):
            pipeline = Pipeline.from_solution(
                "sample-sum", PipelineConfig(batch_size=2), extra_processors=["sample_marker"]
            )
            devices = [DeviceUnit(f"d{i}", {"rows": 4}) for i in range(3)]
            results = pipeline.run_producer_consumer(devices)
        assert results.failed_devices == []
        for device in devices:
            artifacts = results.device_results[device.device_id].artifacts
            assert artifacts == {"sample/sum": 6.0, "sample/marker": device.device_id}

    def test_cli_run_with_extra_processors(self, tmp_path: Path) -> None:
        (tmp_path / "devices.csv").write_text("device_id,rows\na,3\nb,5\n")
        (tmp_path / "run.toml").write_text(textwrap.dedent("""
            [pipeline]
            solution = "sample-sum"
            extra_processors = ["sample_marker"]
            [devices]
            csv = "devices.csv"
            [output]
            dir = "out"
            formats = ["csv"]
        """))
        result = _cli("run", "run.toml", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        summary = (tmp_path / "out" / "summary.csv").read_text().splitlines()
        assert summary[0].startswith("device_id,status,n_artifacts")
        assert [line.split(",")[:3] for line in summary[1:]] == [["a", "ok", "2"], ["b", "ok", "2"]]
        assert "processed 2 devices" in result.stdout
        assert "all devices: 2 ok" in result.stdout

    def test_cli_validate_and_unknown_processor(self, tmp_path: Path) -> None:
        config = tmp_path / "run.toml"
        config.write_text(
            '[pipeline]\nsolution = "sample-sum"\nextra_processors = ["nope"]\n'
            '[devices]\ninline = [{device_id = "a"}]\n'
        )
        result = _cli("validate", str(config))
        assert result.returncode == 2
        assert "'nope'" in result.stderr and "sample_marker" in result.stderr
        config.write_text(config.read_text().replace('["nope"]', '["sample_marker"]'))
        result = _cli("validate", str(config))
        assert result.returncode == 0, result.stderr
        assert "1 devices" in result.stdout


@pytest.mark.usefixtures("installed_sample")
class TestCliExitCodes:
    def test_some_devices_failed_exits_1_and_names_them(self, tmp_path: Path) -> None:
        config = tmp_path / "run.toml"
        config.write_text(
            '[pipeline]\nsolution = "sample-sum"\n[devices]\n'
            'inline = [{device_id = "good", rows = 2}, {device_id = "bad", rows = "many"}]\n'
            '[output]\ndir = "out"\nformats = ["csv", "parquet"]\n'
        )
        result = _cli("run", str(config))
        assert result.returncode == 1, result.stderr
        assert "all devices: 1 failed, 1 ok" in result.stdout
        assert "failed bad: device 'bad': io stage, data_source_factory: ValueError" in result.stdout
        assert (tmp_path / "out" / "summary.parquet").exists()

    def test_validate_probes_the_connector(self, tmp_path: Path) -> None:
        config = tmp_path / "run.toml"
        body = '[pipeline]\nsolution = "sample-sum"\n[devices]\ninline = [{device_id = "a"}]\n'
        config.write_text(body + '[connection]\nplugin = "memory"\n')
        result = _cli("validate", str(config))
        assert result.returncode == 0, result.stderr
        assert "connector memory reachable" in result.stdout
        config.write_text(body + '[connection]\nplugin = "oracle"\n')
        result = _cli("validate", str(config))
        assert result.returncode == 2
        assert "plugin 'oracle' is not installed" in result.stderr

    def test_config_errors_exit_2(self, tmp_path: Path) -> None:
        config = tmp_path / "run.toml"
        config.write_text('[pipeline]\nsolution = "sample-sum"\nbatch_size = 0\n[devices]\ncsv = "x.csv"\n')
        result = _cli("run", str(config))
        assert result.returncode == 2
        assert "line 3: pipeline.batch_size" in result.stderr
        result = _cli("run", str(tmp_path / "missing.toml"))
        assert result.returncode == 2
        result = _cli("frobnicate")
        assert result.returncode == 2


def test_uninstalled_plugin_is_gone(installed_sample: None) -> None:
    """Runs last in this module: after uninstalling, discovery no longer lists it."""
    assert "sample" in _plugins_json()
    _pip("uninstall", "-y", DIST)
    try:
        rows = _plugins_json()
        assert "sample" not in rows and "sample_broken" not in rows
    finally:
        _pip("install", "--no-deps", "--no-build-isolation", str(SAMPLE))

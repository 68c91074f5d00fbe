"""The cookiecutter-processor template tests itself: bake, lint, install, run.

A package is baked from the template into a temp dir, checked (files, entry
point, ruff and mypy), pip-installed into the running interpreter, its own
tests run, found by ``meshinsights plugins``, and appended to a solution's
chain with ``extra_processors``; it is uninstalled at the end.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from meshinsights import (
    ConfigError,
    DataNormalizer,
    DataSource,
    DeviceUnit,
    MeshInsightsError,
    Pipeline,
    PipelineConfig,
    Processor,
    Solution,
    hookimpl,
)
from meshinsights.hookspecs import Register
from meshinsights.scaffold import new_processor, template_dir
from meshinsights.testing import isolated_host

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - meshinsights-core depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cookiecutter-processor"
NAME = "probe_runtime"
DIST = "meshinsights-probe-runtime"
MODULE = "meshinsights_probe_runtime"
CLASS = "ProbeRuntimeProcessor"
ARTIFACT = f"{NAME}/daily_runtime"


def _run(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHINSIGHTS_")}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env,
        timeout=timeout, check=False,
    )


def _cookiecutter_config(directory: Path) -> Path:
    """A cookiecutter config keeping its replay files and clones in ``directory``, not in the home."""
    config = directory / ".cookiecutterrc"
    config.write_text(
        f"replay_dir: {json.dumps(str(directory / '.replay'))}\n"
        f"cookiecutters_dir: {json.dumps(str(directory / '.cookiecutters'))}\n"
    )
    return config


def _bake(output_dir: Path, **answers: str) -> Path:
    """Bake with cookiecutter's Python API, answering from ``answers`` and the defaults."""
    return Path(cookiecutter(
        str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir),
        config_file=str(_cookiecutter_config(output_dir)),
    ))


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bake(tmp_path_factory.mktemp("bake"), plugin_name=NAME, author_name="Ada Tester")


@pytest.fixture(scope="module")
def installed(baked: Path) -> Iterator[Path]:
    """The baked package pip-installed into this interpreter, uninstalled afterwards."""
    pip = ("-m", "pip", "--disable-pip-version-check", "-q")
    result = _run(*pip, "install", "--no-deps", "--no-build-isolation", str(baked))
    assert result.returncode == 0, result.stderr
    importlib.invalidate_caches()
    try:
        yield baked
    finally:
        _run(*pip, "uninstall", "-y", DIST)
        for module in [m for m in sys.modules if m == MODULE or m.startswith(f"{MODULE}.")]:
            del sys.modules[module]


def test_bakes_the_files_with_the_entry_point_wired(baked: Path) -> None:
    assert baked.name == DIST
    expected = [
        "pyproject.toml", "README.md", "tox.ini", ".github/workflows/ci.yml",
        f"src/{MODULE}/__init__.py", f"src/{MODULE}/plugin.py", f"src/{MODULE}/processor.py",
        f"src/{MODULE}/py.typed", "tests/test_processor.py", "tests/test_plugin.py",
    ]
    assert [f for f in expected if not (baked / f).is_file()] == []
    leftovers = [
        str(p.relative_to(baked)) for p in baked.rglob("*")
        if "{{" in p.name or (p.is_file() and b"cookiecutter." in p.read_bytes())
    ]
    assert leftovers == [], "unrendered template text"
    project = tomllib.loads((baked / "pyproject.toml").read_text())
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert project["project"]["name"] == DIST
    assert project["project"]["entry-points"]["meshinsights"] == {NAME: f"{MODULE}.plugin"}
    assert project["project"]["dependencies"] == ["meshinsights-core>=0.1"]
    assert project["project"]["optional-dependencies"]["test"] == ["pytest>=8"]
    assert project["project"]["authors"] == [{"name": "Ada Tester", "email": "you@example.com"}]
    assert f"class {CLASS}(Processor)" in (baked / f"src/{MODULE}/processor.py").read_text()
    assert "${{ matrix.python-version }}" in (baked / ".github/workflows/ci.yml").read_text()
    assert f'extra_processors = ["{NAME}"]' in (baked / "README.md").read_text()


def test_generated_code_is_ruff_and_mypy_clean(baked: Path, tmp_path: Path) -> None:
    for config in (["--config", str(ROOT / "pyproject.toml")], []):  # the repo's and its own
        result = _run("-m", "ruff", "check", "--no-cache", *config, ".", cwd=baked)
        assert result.returncode == 0, result.stdout + result.stderr
    result = _run("-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy"), "src", cwd=baked)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_tests_pass(installed: Path) -> None:
    result = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(installed / "tests"), cwd=installed)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert "skipped" not in summary and "failed" not in summary and "error" not in summary


def test_listed_by_meshinsights_plugins(installed: Path) -> None:
    result = _run("-m", "meshinsights.cli", "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["plugin"]: row for row in json.loads(result.stdout)}
    assert rows[NAME]["distribution"] == DIST
    assert rows[NAME]["status"] == "ok"
    assert rows[NAME]["registered"] == {"processors": [NAME]}


# -- a small solution whose normalized dataset is hvac_power --------------------------------
POWER = "hvac_power"
DAYS = 2


def _fleet() -> pd.DataFrame:
    """One-minute rows; device i runs cool1 for 10 * (i + 1) minutes at the top of each hour."""
    minute = np.arange(DAYS * 1440)
    frames = []
    for i in range(2):
        on = minute % 60 < 10 * (i + 1)
        frames.append(pd.DataFrame({
            "device_id": f"rtu-{i}",
            "timestamp": pd.Timestamp("2025-02-05", tz="UTC") + pd.to_timedelta(minute, unit="min"),
            "power_kw": np.where(on, 3.0, 0.0),
            "stage": np.where(on, "cool1", "off"),
            "cycle_id": pd.Series(np.where(on, "cool1-" + (minute // 60).astype(str), None)),
        }))
    return pd.concat(frames, ignore_index=True)


TABLES = {POWER: _fleet()}


class _PowerRows(DataSource):
    def __init__(self, device_id: str) -> None:
        super().__init__(POWER, "memory", {"tables": TABLES})
        self.device_id = device_id

    def build_query(self) -> str:
        return POWER

    def build_parameters(self) -> dict[str, str]:
        return {"device_id": self.device_id}


class _DropDeviceId(DataNormalizer):
    required_columns = ("timestamp", "power_kw", "stage", "cycle_id")

    def transform(self, data: pd.DataFrame, metadata: dict[str, object] | None = None) -> pd.DataFrame:
        return data.drop(columns=["device_id"])


def _sources(device: DeviceUnit) -> dict[str, DataSource]:
    return {POWER: _PowerRows(device.device_id)}


def _normalizers(device: DeviceUnit) -> dict[str, DataNormalizer]:
    return {POWER: _DropDeviceId()}


def _no_processors(device: DeviceUnit) -> Sequence[Processor]:
    return []


class _ProbeSolutionPlugin:
    @hookimpl
    def register_solutions(self, register: Register) -> None:
        register("probe-power", Solution("probe-power", _sources, _normalizers, _no_processors))


def test_extra_processors_runs_it_in_a_solution_chain(installed: Path) -> None:
    with isolated_host(_ProbeSolutionPlugin(), entry_points=True):
        pipeline = Pipeline.from_solution(
            "probe-power", PipelineConfig(batch_size=1), extra_processors=[NAME]
        )
        results = pipeline.run_producer_consumer([DeviceUnit("rtu-0"), DeviceUnit("rtu-1")])
    assert results.failed_devices == []
    for i in range(2):
        device = results.device_results[f"rtu-{i}"]
        assert device.warnings == []
        daily = device.artifacts[ARTIFACT]
        assert daily["stage"].tolist() == ["cool1"] * DAYS
        assert daily["runtime_h"].tolist() == pytest.approx([10 * (i + 1) * 24 / 60] * DAYS)
        assert daily["energy_kwh"].tolist() == pytest.approx([3.0 * 10 * (i + 1) * 24 / 60] * DAYS)
        assert daily["n_cycles"].tolist() == [24] * DAYS
        assert device.timings[CLASS] >= 0


# -- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Occupancy", "is not a lowercase identifier-like name"),
        ("peak-demand", "is not a lowercase identifier-like name"),
        ("2fast", "is not a lowercase identifier-like name"),
        ("double__under", "is not a lowercase identifier-like name"),
        ("class", "is a Python keyword"),
        ("memory", "clashes with a MeshInsights core name"),
        ("hvac", "clashes with a MeshInsights core name"),
    ],
)
def test_invalid_names_are_rejected_with_a_clear_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    with pytest.raises(FailedHookException):
        _bake(tmp_path, plugin_name=name)
    assert f"ERROR: plugin name {name!r} {reason}" in capfd.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    with pytest.raises(ConfigError, match=f"plugin name {name!r} {reason}"):
        new_processor(tmp_path / "api", name, no_input=True)
    assert not (tmp_path / "api").exists()


def test_new_processor_bakes_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOKIECUTTER_CONFIG", str(_cookiecutter_config(tmp_path)))
    assert template_dir().resolve() == TEMPLATE.resolve()  # the package links to the checkout's
    project = new_processor(tmp_path / "out", "occupancy", no_input=True,
                            extra_context={"author_name": "Grace"})
    assert project == tmp_path / "out" / "meshinsights-occupancy"
    text = (project / "src" / "meshinsights_occupancy" / "plugin.py").read_text()
    assert 'PROCESSOR_NAME = "occupancy"' in text
    assert "OccupancyProcessor" in text
    assert 'name = "Grace"' in (project / "pyproject.toml").read_text()


def test_without_cookiecutter_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cookiecutter.main", None)  # makes the import fail
    with pytest.raises(MeshInsightsError, match=r'pip install "meshinsights-core\[scaffold\]"'):
        new_processor(tmp_path, "occupancy", no_input=True)


def test_the_core_wheel_carries_the_template(tmp_path: Path) -> None:
    result = _run("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
                  str(ROOT / "packages" / "meshinsights-core"))
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("meshinsights_core-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    inside = "meshinsights/templates/cookiecutter-processor/"
    template_files = [p.relative_to(TEMPLATE).as_posix() for p in TEMPLATE.rglob("*") if p.is_file()]
    assert [f for f in template_files if inside + f not in names] == []
    assert "meshinsights/scaffold.py" in names

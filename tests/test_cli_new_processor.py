"""`meshinsights new processor` scaffolds a package, and refuses bad names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshinsights.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120, check=False,
    )


def test_new_processor_creates_the_package(tmp_path: Path) -> None:
    result = _cli("new", "processor", "runtime", "--no-input", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "meshinsights-runtime"
    assert (project / "src" / "meshinsights_runtime" / "plugin.py").is_file()
    pyproject = (project / "pyproject.toml").read_text()
    assert '"runtime" = "meshinsights_runtime.plugin"' in pyproject
    assert f"created {project}" in result.stdout


def test_new_processor_refuses_a_bad_name(tmp_path: Path) -> None:
    result = _cli("new", "processor", "Bad-Name", "--no-input", cwd=tmp_path)
    assert result.returncode == 2
    assert "Bad-Name" in result.stderr
    assert not any(tmp_path.iterdir())

"""Helpers shared by the reliability tests: CLI runs, run configs, fleets served by test servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
#: A folder holding a test-only plugin (module + .dist-info with its entry point).
PLUGIN_SITE = HERE / "plugin_site"

#: How many SIGKILL trials the crash test runs (>= 20 for the full variant).
DEFAULT_SLOW_SCALE = 4

MYSQL_USER = "hvac"
MYSQL_PASSWORD = "Rel-Analyst-5f0c2e"


def slow_scale() -> int:
    """``MESHINSIGHTS_SLOW_SCALE`` (trials of the slow tests), short by default for CI."""
    raw = os.environ.get("MESHINSIGHTS_SLOW_SCALE", "").strip()
    return max(1, int(raw)) if raw else DEFAULT_SLOW_SCALE


def cli_env(extra: Mapping[str, str] | None = None, *, with_fault_plugin: bool = True) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    if with_fault_plugin:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PLUGIN_SITE), env.get("PYTHONPATH", "")) if p
        )
    return env


def cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m meshinsights.cli ARGS`` in ``cwd``, the fault plugin importable."""
    return subprocess.run(
        [sys.executable, "-m", "meshinsights.cli", *args], cwd=cwd, capture_output=True,
        text=True, timeout=timeout, env=cli_env(env), check=False,
    )


def popen_cli(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "meshinsights.cli", *args], cwd=cwd, env=cli_env(env),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is JSON-compatible
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def write_config(
    folder: Path,
    name: str,
    connection: Mapping[str, Any],
    *,
    devices_csv: str = "devices.csv",
    out: str = "out",
    pipeline: Mapping[str, Any] | None = None,
    formats: tuple[str, ...] = ("csv",),
    hvac: Mapping[str, Any] | None = None,
) -> Path:
    """A run config for hvac-power over ``connection``; returns its path."""
    settings = {"solution": "hvac-power", "batch_size": 20, "io_max_workers": 4,
                **(pipeline or {})}
    lines = ["[pipeline]", *(f"{k} = {toml_value(v)}" for k, v in settings.items()),
             "[connection]", *(f"{k} = {toml_value(v)}" for k, v in connection.items()),
             "[devices]", f"csv = {toml_value(devices_csv)}",
             "[hvac]", *(f"{k} = {toml_value(v)}" for k, v in {"min_cycles_per_stage": 3,
                                                                **(hvac or {})}.items()),
             "[output]", f"dir = {toml_value(out)}", f"formats = {toml_value(list(formats))}"]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_summary(out_dir: Path) -> pd.DataFrame:
    return pd.read_csv(out_dir / "summary.csv", dtype={"device_id": str, "location_id": str})


def ledger_records(out_dir: Path) -> list[dict[str, Any]]:
    folder = out_dir / "ledger" / "devices"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def sitesage_power(power: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """The fleet's rows per (location, control), as the SiteSage test server serves them."""
    return {
        (str(loc), str(ctl)): group[["timestamp", "power_w", "stage"]].reset_index(drop=True)
        for (loc, ctl), group in power.groupby(["location_id", "control_id"], sort=False)
    }


def fault_fraction(statuses: list[int | None]) -> float:
    """The share of recorded requests a fault was injected into."""
    return sum(s is not None for s in statuses) / max(len(statuses), 1)


def mysql_connection(host: str, port: int, **extra: Any) -> dict[str, Any]:
    """A ``[connection]`` for the session's MariaDB; the password comes from REL_MYSQL_PASSWORD."""
    return {"plugin": "mysql", "host": host, "port": port, "user": MYSQL_USER,
            "password": "${REL_MYSQL_PASSWORD}", "database": "telemetry", **extra}

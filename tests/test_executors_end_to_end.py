"""The HVAC demo fleet through threads, processes and Dask gives one summary.

Dask runs on a 2-worker LocalCluster on loopback, reached by its scheduler
address the way a user points a run config at an existing cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster

from meshinsights_hvac.demo import generate_fleet

CONFIG = """
[pipeline]
solution = "hvac-power"
batch_size = 4
io_max_workers = 2
cpu_max_workers = 2
{executor}
[connection]
plugin = "file"
root = "data"
tables = {{ power = "power/*.parquet" }}
[devices]
csv = "data/devices.csv"
[output]
dir = "{out}"
formats = ["csv"]
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    generate_fleet(n_devices=12, days=10, seed=11, out_dir=root / "data")
    return root


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local:
        yield local


def _run(root: Path, name: str, executor_lines: str) -> str:
    (root / f"{name}.toml").write_text(CONFIG.format(executor=executor_lines, out=f"out-{name}"))
    result = subprocess.run(
        [sys.executable, "-m", "meshinsights", "run", f"{name}.toml"], cwd=root,
        capture_output=True, text=True, timeout=600, env=dict(os.environ), check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return (root / f"out-{name}" / "summary.csv").read_text()


def test_three_executors_one_summary(fleet: Path, cluster: LocalCluster) -> None:
    threads = _run(fleet, "threads", 'executor = "threads"')
    processes = _run(fleet, "processes", 'executor = "processes"')
    dask = _run(fleet, "dask", f'executor = "dask"\ndask_scheduler = "{cluster.scheduler_address}"')
    assert len(threads.splitlines()) > 12
    assert processes == threads
    assert dask == threads
    manifest = json.loads((fleet / "out-dask" / "manifest.json").read_text())
    assert manifest["config"]["pipeline"]["executor"] == "dask"
    assert manifest["timing"]["tuning"]["bottleneck"] in {"io", "cpu"}
    # The devices' Stage 2 ran as tasks on the cluster's workers.
    prefix = cluster.scheduler.task_prefixes["process_in_dask_worker"]
    assert prefix.all_durations["compute"] > 0


def test_fetch_in_workers_same_summary_and_stage_1_on_the_workers(
    fleet: Path, cluster: LocalCluster
) -> None:
    threads = _run(fleet, "threads-2", 'executor = "threads"')
    processes = _run(fleet, "processes-fetching",
                     'executor = "processes"\nfetch_in_workers = true')
    dask = _run(fleet, "dask-fetching", f'executor = "dask"\nfetch_in_workers = true\n'
                f'dask_scheduler = "{cluster.scheduler_address}"')
    assert processes == threads
    assert dask == threads
    manifest = json.loads((fleet / "out-dask-fetching" / "manifest.json").read_text())
    assert manifest["config"]["pipeline"]["fetch_in_workers"] is True
    assert manifest["timing"]["io_busy_s"] > 0 and manifest["timing"]["cpu_busy_s"] > 0
    # Each group of devices was fetched and processed by one task on the cluster's workers.
    prefix = cluster.scheduler.task_prefixes["run_group_in_dask_worker"]
    assert prefix.all_durations["compute"] > 0


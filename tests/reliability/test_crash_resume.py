"""SIGKILL at random points, then ``--resume``: always the fault-free summary, nothing lost or doubled.

The number of trials is ``MESHINSIGHTS_SLOW_SCALE`` (CI's short form: 4; the
full variant: ``MESHINSIGHTS_SLOW_SCALE=20`` or more). Each trial waits for
a random number of committed devices (zero: still starting up) and then a
random fraction of a second, both from a seeded generator, so the kills land
in start-up, fetches, processing, ledger commits and output writing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from reliability_support import cli, ledger_records, popen_cli, slow_scale, write_config

N_DEVICES = 16


def _artifacts(out: Path) -> dict[str, pd.DataFrame]:
    """Every artifact dataset, rows sorted, so two runs compare regardless of write order."""
    found: dict[str, pd.DataFrame] = {}
    for folder in sorted((out / "artifacts").iterdir()):
        frame = pd.read_parquet(folder)
        frame["device_id"] = frame["device_id"].astype(str)
        columns = [c for c in frame.columns if c != "device"]  # the hive partition column
        found[folder.name] = frame[columns].sort_values(columns, kind="stable").reset_index(drop=True)
    return found


@pytest.fixture(scope="module")
def crash_fleet(fleet_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 of the fleet's devices, a run config over the file connector, and a fault-free run."""
    work = tmp_path_factory.mktemp("crash")
    pd.read_csv(fleet_dir / "devices.csv", dtype=str).head(N_DEVICES).to_csv(
        work / "devices.csv", index=False
    )
    write_config(
        work, "run.toml",
        {"plugin": "file", "root": str(fleet_dir), "tables": {"power": "power/*.parquet"}},
        pipeline={"batch_size": 2, "io_max_workers": 2}, out="clean", formats=("csv", "parquet"),
    )
    started = time.monotonic()
    result = cli("run", "run.toml", cwd=work)
    (work / "clean.seconds").write_text(f"{time.monotonic() - started:.3f}")
    assert result.returncode == 0, result.stderr[-2000:]
    return work


@pytest.mark.slow
def test_sigkill_at_random_points_always_resumes_to_the_same_results(crash_fleet: Path) -> None:
    clean = crash_fleet / "clean"
    expected_summary = (clean / "summary.csv").read_text()
    expected_artifacts = _artifacts(clean)
    duration = float((crash_fleet / "clean.seconds").read_text())
    trials = slow_scale()
    landed: list[int] = []
    for trial in range(trials):
        rng = random.Random(f"sigkill-{trial}")
        out_name = f"killed-{trial}"
        config = crash_fleet / f"{out_name}.toml"
        config.write_text((crash_fleet / "run.toml").read_text().replace('dir = "clean"',
                                                                         f'dir = "{out_name}"'))
        out = crash_fleet / out_name
        records_dir = out / "ledger" / "devices"
        process = popen_cli("run", config.name, cwd=crash_fleet)
        # Wait for a random number of committed devices (0: still starting), then a random moment.
        wanted = rng.randint(0, N_DEVICES - 2)
        deadline = time.monotonic() + duration * 3
        while (time.monotonic() < deadline and process.poll() is None
               and len(list(records_dir.glob("*.json"))) < wanted):
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        landed.append(len(list(records_dir.glob("*.json"))) if records_dir.is_dir() else 0)

        resumed = cli("run", "--resume", config.name, cwd=crash_fleet)
        where = f"trial {trial}: killed with {landed[-1]} devices recorded"
        assert resumed.returncode == 0, f"{where}: {resumed.stderr[-2000:]}"
        assert f"processed {N_DEVICES - landed[-1]} devices" in resumed.stdout, where
        assert (out / "summary.csv").read_text() == expected_summary, where
        records = ledger_records(out)  # every record parses
        ids = [r["device_id"] for r in records]
        assert len(ids) == len(set(ids)) == N_DEVICES, where
        assert not list(out.rglob(".tmp-*")), f"{where}: temporary files left behind"
        for record in records:
            for path in record["artifact_files"].values():
                part = pd.read_parquet(out / path)
                assert set(part["device_id"].astype(str)) <= {record["device_id"]}, where
            partitions = list((out / "artifacts").glob(f"*/device={record['device_id']}"))
            assert all(len(list(p.iterdir())) == 1 for p in partitions), f"{where}: extra part files"
        actual = _artifacts(out)
        assert actual.keys() == expected_artifacts.keys(), where
        for key, frame in actual.items():
            pd.testing.assert_frame_equal(frame, expected_artifacts[key], obj=f"{where}: {key}")
        documents = [json.loads(line) for line in (out / "devices.jsonl").read_text().splitlines()]
        assert sorted(d["device_id"] for d in documents) == sorted(ids), where
    print(f"\nRELIABILITY-FIGURES crash: {trials} trials, devices recorded at the kill: {landed}")
    assert len(landed) == trials

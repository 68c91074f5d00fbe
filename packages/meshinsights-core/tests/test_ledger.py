"""The results ledger: atomic commits, refusing to mix runs, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from meshinsights import (
    BatchResults,
    DeviceUnit,
    Pipeline,
    PipelineConfig,
    PipelineDataObject,
    Processor,
)
from meshinsights.errors import ConfigError
from meshinsights.ledger import Ledger, atomic_write_text, safe_name
from meshinsights.outputs import run_into_ledger
from meshinsights.testing import isolated_host
from meshinsights.testing.faults import no_normalizers, synthetic_sources

PLUGIN = textwrap.dedent('''
    """A slow solution for the ledger tests: each device sleeps, then writes a table."""
    import time
    import pandas as pd
    from meshinsights import DataSource, Processor, Solution, hookimpl

    class Source(DataSource):
        def __init__(self, n):
            super().__init__("values", "memory")
            self.n = n
        def build_query(self):
            return "values"
        def fetch(self):
            return pd.DataFrame({"value": range(self.n)})

    class Slow(Processor):
        def process(self, data_object):
            time.sleep(float(data_object.config.get("sleep", 0.03)))
            frame = data_object.get_dataset("values")
            if len(frame) == 7:
                raise ValueError("seven is not allowed")
            data_object.set_artifact("table/values", frame.assign(double=frame["value"] * 2))
            data_object.set_artifact("total", int(frame["value"].sum()))
            return data_object

    def sources(device):
        return {"values": Source(int(device.parameters["n"]))}

    SOLUTION = Solution(
        name="slow-sum", data_source_factory=sources, normalizer_factory=lambda d: {},
        processor_factory=lambda d: [Slow()],
    )

    @hookimpl
    def register_solutions(register):
        register("slow-sum", SOLUTION)
''')

RUNNER = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import slow_plugin
    from meshinsights.run import prepare_run, execute
    from meshinsights.testing import isolated_host

    with isolated_host(slow_plugin):
        outcome = execute(prepare_run(sys.argv[2]), resume="--resume" in sys.argv,
                          rerun_failed="--rerun-failed" in sys.argv)
    print("FAILED", ",".join(outcome.failed))
''')

N_DEVICES = 40


def _setup(tmp_path: Path, out: str) -> Path:
    (tmp_path / "slow_plugin.py").write_text(PLUGIN)
    (tmp_path / "runner.py").write_text(RUNNER)
    rows = "\n".join(f"dev-{i:03d},{i % 9}" for i in range(N_DEVICES))
    (tmp_path / "devices.csv").write_text("device_id,n\n" + rows + "\n")
    config = tmp_path / f"{out}.toml"
    config.write_text(textwrap.dedent(f"""
        [pipeline]
        solution = "slow-sum"
        batch_size = 4
        io_max_workers = 2
        [devices]
        csv = "devices.csv"
        [output]
        dir = "{out}"
        formats = ["csv", "parquet"]
    """))
    return config


def _run(tmp_path: Path, config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path), str(config), *flags],
        capture_output=True, text=True, timeout=120,
    )


def _summary(out_dir: Path) -> pd.DataFrame:
    return pd.read_csv(out_dir / "summary.csv").drop(columns=["io_seconds", "cpu_seconds"])


def test_killed_run_resumes_to_the_same_summary(tmp_path: Path) -> None:
    reference = _setup(tmp_path, "reference")
    assert _run(tmp_path, reference).returncode == 0
    expected = _summary(tmp_path / "reference")
    assert len(expected) == N_DEVICES

    config = _setup(tmp_path, "killed")
    records = tmp_path / "killed" / "ledger" / "devices"
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path), str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(records.glob("*.json"))) < 10:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    committed = {p.name for p in records.glob("*.json")}
    assert 10 <= len(committed) < N_DEVICES, "the kill must land in the middle of the run"
    for path in records.glob("*.json"):
        json.loads(path.read_text())  # every committed record is whole

    refused = _run(tmp_path, config)
    assert refused.returncode != 0
    assert "already holds results of an earlier run" in refused.stderr

    resumed = _run(tmp_path, config, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    actual = _summary(tmp_path / "killed")
    pd.testing.assert_frame_equal(actual, expected)
    assert actual["device_id"].is_unique
    manifest = json.loads((tmp_path / "killed" / "manifest.json").read_text())
    assert [run["mode"] for run in manifest["runs"]] == ["resume"]
    assert manifest["runs"][0]["devices_processed"] == N_DEVICES - len(committed)
    artifacts = pd.read_parquet(tmp_path / "killed" / "artifacts" / "table__values")
    rows_per_device = {d: int(d[-3:]) % 9 for d in expected["device_id"]}
    assert artifacts.groupby("device_id").size().to_dict() == {
        d: n for d, n in rows_per_device.items() if n and n != 7
    }


def test_rerun_failed_runs_only_failed_devices(tmp_path: Path) -> None:
    config = _setup(tmp_path, "out")
    first = _run(tmp_path, config)
    failed = first.stdout.strip().split(" ", 1)[1].split(",")
    assert failed == [f"dev-{i:03d}" for i in range(N_DEVICES) if i % 9 == 7]
    again = _run(tmp_path, config, "--rerun-failed")
    assert again.returncode == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [r["mode"] for r in manifest["runs"]] == ["fresh", "rerun-failed"]
    assert manifest["runs"][1]["devices_processed"] == len(failed)
    assert manifest["devices"]["by_status"] == {"failed": len(failed), "ok": N_DEVICES - len(failed)}


def test_plan_rules(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    assert ledger.plan(["a", "b"], resume=False, rerun_failed=False) == ["a", "b"]
    with pytest.raises(ConfigError, match="no earlier run"):
        ledger.plan(["a"], resume=False, rerun_failed=True)
    with pytest.raises(ConfigError, match="cannot be used together"):
        ledger.plan(["a"], resume=True, rerun_failed=True)
    results = BatchResults(run_id="r1")
    ok = PipelineDataObject("p", {"device_id": "a"})
    bad = PipelineDataObject("p", {"device_id": "b"}).add_error("boom")
    results.add_device(ok, "a")
    results.add_device(bad, "b")
    ledger.record_batch(results, pd.DataFrame({"device_id": ["a", "b"], "status": ["ok", "failed"]}))
    assert ledger.statuses() == {"a": "ok", "b": "failed"}
    assert ledger.plan(["a", "b", "c"], resume=True, rerun_failed=False) == ["c"]
    assert ledger.plan(["a", "b", "c"], resume=False, rerun_failed=True) == ["b"]


def test_atomic_write_leaves_no_temporary(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "x" / "f.json", "{}")
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["f.json"]


def test_safe_names_are_distinct_and_stay_inside_the_folder() -> None:
    ids = ["a", "a/b", "a%2Fb", "../x", ".hidden", "x" * 300, "y" * 300, "ü"]
    names = [safe_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all("/" not in n and not n.startswith(".") and len(n) < 130 for n in names)


class _Marks(Processor):
    """Notes each device it processes; sets ``reached`` on ``mark``'s device."""

    def __init__(self, mark: str, reached: threading.Event) -> None:
        super().__init__()
        self.mark, self.reached = mark, reached

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        data_object.set_artifact("table/rows", data_object.get_dataset("values"))
        if data_object.device_id == self.mark:
            self.reached.set()
        return data_object


def _ledger_run(tmp_path: Path, reached: threading.Event) -> tuple[Pipeline, list[DeviceUnit], Ledger]:
    pipeline = Pipeline(
        synthetic_sources, no_normalizers, lambda device: [_Marks("d4", reached)],
        config=PipelineConfig(batch_size=4, io_max_workers=2),
    )
    devices = [DeviceUnit(f"d{i}", {"rows": 5 + i}) for i in range(12)]
    ledger = Ledger(tmp_path / "out")
    ledger.out_dir.mkdir(parents=True)
    return pipeline, devices, ledger


def test_a_batch_is_written_while_the_next_one_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    next_batch_ran = threading.Event()
    pipeline, devices, ledger = _ledger_run(tmp_path, next_batch_ran)
    record_batch = Ledger.record_batch

    def record_when_the_next_batch_ran(self: Ledger, results: BatchResults, summary: pd.DataFrame) -> None:
        if "d0" in results.device_results:  # batch 1 is written only once batch 2 ran
            assert next_batch_ran.wait(10), "batch 2 waited for batch 1 to be written"
        record_batch(self, results, summary)

    monkeypatch.setattr(Ledger, "record_batch", record_when_the_next_batch_ran)
    with isolated_host():
        totals = run_into_ledger(pipeline, devices, ledger, "fresh")
    assert sorted(ledger.statuses()) == sorted(d.device_id for d in devices)
    assert totals.write_busy_s > 0
    assert totals.write_busy_s >= totals.write_waited_s >= 0
    written = pd.read_parquet(ledger.out_dir / "artifacts" / "table__rows")
    assert written.groupby("device_id").size().to_dict() == {f"d{i}": 5 + i for i in range(12)}


def test_a_failed_write_stops_the_run_and_keeps_the_batches_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, devices, ledger = _ledger_run(tmp_path, threading.Event())
    record_batch = Ledger.record_batch

    def disk_full_at_batch_2(self: Ledger, results: BatchResults, summary: pd.DataFrame) -> None:
        if "d4" in results.device_results:
            raise OSError(28, "No space left on device")
        record_batch(self, results, summary)

    monkeypatch.setattr(Ledger, "record_batch", disk_full_at_batch_2)
    with isolated_host(), pytest.raises(OSError, match="No space left on device"):
        run_into_ledger(pipeline, devices, ledger, "fresh")
    assert sorted(ledger.statuses()) == ["d0", "d1", "d2", "d3"]
    assert ledger.plan([d.device_id for d in devices], resume=True, rerun_failed=False) == [
        f"d{i}" for i in range(4, 12)
    ]


def test_a_run_that_fails_still_commits_the_batch_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, devices, ledger = _ledger_run(tmp_path, threading.Event())
    iter_batches = Pipeline.iter_batches

    def fails_after_two_batches(self: Pipeline, devices: list[DeviceUnit], **kwargs: object):
        for index, batch in enumerate(iter_batches(self, devices, **kwargs)):
            yield batch
            if index == 1:
                raise RuntimeError("the connection went away")

    monkeypatch.setattr(Pipeline, "iter_batches", fails_after_two_batches)
    with isolated_host(), pytest.raises(RuntimeError, match="the connection went away"):
        run_into_ledger(pipeline, devices, ledger, "fresh")
    assert sorted(ledger.statuses()) == [f"d{i}" for i in range(8)]


def test_a_failed_write_does_not_hide_the_error_that_stopped_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, devices, ledger = _ledger_run(tmp_path, threading.Event())
    iter_batches = Pipeline.iter_batches

    def fails_after_the_first_batch(self: Pipeline, devices: list[DeviceUnit], **kwargs: object):
        batches = iter_batches(self, devices, **kwargs)
        yield next(batches)
        batches.close()
        raise RuntimeError("the connection went away")

    def disk_full(self: Ledger, results: BatchResults, summary: pd.DataFrame) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Pipeline, "iter_batches", fails_after_the_first_batch)
    monkeypatch.setattr(Ledger, "record_batch", disk_full)
    with isolated_host(), pytest.raises(RuntimeError, match="the connection went away"):
        run_into_ledger(pipeline, devices, ledger, "fresh")
    assert "No space left on device" in caplog.text
    assert ledger.statuses() == {}


@pytest.mark.parametrize(("wanted", "written"), [(None, ["table__rows"]), ([], []),
                                                 (["table/rows"], ["table__rows"])])
def test_the_ledger_writes_only_the_artifacts_asked_for(
    tmp_path: Path, wanted: list[str] | None, written: list[str]
) -> None:
    pipeline, devices, _ = _ledger_run(tmp_path, threading.Event())
    ledger = Ledger(tmp_path / "out", artifacts=wanted)
    with isolated_host():
        run_into_ledger(pipeline, devices[:4], ledger, "fresh")
    folder = ledger.out_dir / "artifacts"
    assert (sorted(p.name for p in folder.iterdir()) if folder.exists() else []) == written
    records = list(ledger.records())
    assert len(records) == 4
    assert all(sorted(r.artifact_files) == [w.replace("__", "/") for w in written] for r in records)
    assert ledger.artifact_keys_seen == {"table/rows"}

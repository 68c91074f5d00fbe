"""The retry recorder: counts, bounds, windows between snapshots, threads, and what a reason may say."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest

from meshinsights import DeviceUnit, Pipeline, PipelineConfig, retries
from meshinsights.ledger import Ledger
from meshinsights.outputs import RunTotals, retries_section, run_into_ledger
from meshinsights.retries import RetryBounds, RetryRecorder, RetrySnapshot, reason_code
from meshinsights.testing import isolated_host
from meshinsights.testing.faults import SummarizeValues, SyntheticSource, no_normalizers


def _call(recorder: RetryRecorder, connector: str, attempts: int, wait: float = 0.5,
          reason: str = "HTTP 503") -> None:
    """What a connector reports for one call that took ``attempts`` attempts."""
    for attempt in range(1, attempts):
        recorder.record_retry(connector, attempt=attempt, wait_seconds=wait, reason=reason)


def test_counts_of_retries_calls_and_attempts() -> None:
    recorder = RetryRecorder()
    _call(recorder, "db", 3)  # two retries
    _call(recorder, "db", 2, wait=0.25, reason="2013")
    _call(recorder, "db", 5)
    _call(recorder, "api", 2)
    recorder.record_gave_up("db", attempts=5, elapsed_seconds=1.5)
    stats = recorder.snapshot()["db"]
    assert stats.retries == 2 + 1 + 4
    assert stats.calls_retried == 3
    assert stats.calls_by_attempts == {2: 1, 3: 1, 5: 1}
    assert stats.longest_attempts == 5
    assert stats.wait_seconds == pytest.approx(6 * 0.5 + 0.25)
    assert stats.gave_up == 1 and stats.gave_up_seconds == pytest.approx(1.5)
    assert dict(stats.reasons) == {"HTTP 503": 6, "2013": 1}
    assert recorder.snapshot()["api"].retries == 1
    assert stats.bounds is None


def test_a_call_that_gives_up_at_its_first_attempt_counts_as_one_attempt() -> None:
    recorder = RetryRecorder()
    recorder.record_gave_up("db", attempts=1, elapsed_seconds=0.1)
    stats = recorder.snapshot()["db"]
    assert (stats.retries, stats.gave_up, stats.longest_attempts) == (0, 1, 1)
    assert stats.active


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        RetryRecorder().record_retry("db", attempt=0, wait_seconds=0, reason="x")


def test_snapshots_are_immutable_and_do_not_move() -> None:
    recorder = RetryRecorder()
    _call(recorder, "db", 2)
    before = recorder.snapshot()
    _call(recorder, "db", 4)
    assert before["db"].retries == 1 and recorder.snapshot()["db"].retries == 4
    with pytest.raises(TypeError):
        before["db"].reached[2] = 99  # type: ignore[index]
    with pytest.raises(TypeError):
        before.connectors["other"] = before["db"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        before["db"].wait_seconds = 0.0  # type: ignore[misc]


def test_since_is_only_what_happened_between_two_snapshots() -> None:
    recorder = RetryRecorder()
    earlier_bounds, bounds = RetryBounds(10, max_seconds=60.0), RetryBounds(6, max_wait_seconds=5.0)
    for _ in range(3):
        recorder.record_call("db", earlier_bounds)
    _call(recorder, "db", 6, reason="2003")  # an earlier run's long retry
    recorder.record_gave_up("db", attempts=6, elapsed_seconds=4.0)
    recorder.record_call("api", bounds)
    _call(recorder, "api", 3)
    earlier = recorder.snapshot()
    for _ in range(5):
        recorder.record_call("db", bounds)
    _call(recorder, "db", 2, wait=0.1, reason="1205")
    _call(recorder, "db", 3, wait=0.1, reason="1205")
    window = recorder.snapshot().since(earlier)
    db = window["db"]
    assert (db.calls, db.retries, db.calls_retried, db.gave_up, db.longest_attempts) == (
        5, 3, 2, 0, 3)
    assert db.wait_seconds == pytest.approx(0.3)
    assert dict(db.reasons) == {"1205": 3}  # the earlier 2003s are not this window's
    assert db.bounds == bounds  # the earlier calls' looser bounds are not this window's
    assert recorder.snapshot()["db"].bounds == RetryBounds(10, None, None)
    # "api" did nothing in the window: known, but neither used nor active
    assert window["api"].retries == 0 and window["api"].bounds is None
    assert list(window.active()) == ["db"] and list(window.used()) == ["db"]


def test_bounds_are_the_loosest_of_the_calls() -> None:
    recorder = RetryRecorder()
    assert RetryBounds(4, 10.0, 3.0).loosest(RetryBounds(6, 5.0, 3.0)) == RetryBounds(6, 10.0, 3.0)
    recorder.record_call("db", RetryBounds(4, 10.0, 3.0))
    recorder.record_call("db", RetryBounds(6, 5.0, 3.0))
    assert recorder.snapshot()["db"].bounds == RetryBounds(6, 10.0, 3.0)
    recorder.record_call("db", RetryBounds(2))  # a call without time caps: none is reported
    assert recorder.snapshot()["db"].bounds == RetryBounds(6, None, None)
    assert recorder.snapshot()["db"].calls == 3


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("HTTP 429", "HTTP 429"),
        ("2013", "2013"),
        ("E_THROTTLED", "E_THROTTLED"),
        ("ReadTimeoutError", "ReadTimeoutError"),
        ("HTTP 503 ServiceUnavailable", "HTTP 503 ServiceUnavailable"),
        ("mysql://analyst:pw@db/telemetry", "other"),
        ("https://api.example.com/v1?token=abc", "other"),
        ("password=hunter2", "other"),
        ("SELECT * FROM power WHERE device_id = 'd1'", "other"),
        ("Lost connection to MySQL server during query (timed out)", "other"),
        ("", "other"),
    ],
)
def test_a_reason_is_a_short_code_or_other(reason: str, expected: str) -> None:
    assert reason_code(reason) == expected
    recorder = RetryRecorder()
    recorder.record_retry("db", attempt=1, wait_seconds=0, reason=reason)
    assert dict(recorder.snapshot()["db"].reasons) == {expected: 1}


def test_counts_are_exact_under_concurrent_recording() -> None:
    recorder = RetryRecorder()
    threads, calls = 8, 2_000
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        start.wait()
        for _ in range(calls):
            recorder.record_call(f"c{index % 2}", RetryBounds(3 + index))
            _call(recorder, f"c{index % 2}", 3, wait=0.001)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    snapshot = recorder.snapshot()
    for name, indexes in (("c0", (0, 2, 4, 6)), ("c1", (1, 3, 5, 7))):
        stats = snapshot[name]
        assert stats.calls == calls * len(indexes)
        assert stats.retries == 2 * calls * len(indexes)
        assert stats.calls_by_attempts == {3: calls * len(indexes)}
        assert stats.wait_seconds == pytest.approx(0.001 * stats.retries)
        assert stats.bounds is not None and stats.bounds.max_attempts == 3 + max(indexes)


def test_dict_form_and_summary_line() -> None:
    recorder = RetryRecorder()
    assert recorder.snapshot().summary() is None
    recorder.record_call("mysql", RetryBounds(5, max_wait_seconds=40.0))
    recorder.record_call("mysql", RetryBounds(5, max_wait_seconds=40.0))
    _call(recorder, "mysql", 4, wait=1.25, reason="2003")
    _call(recorder, "adx", 2, wait=0.5, reason="HTTP 429 TooManyRequests")
    recorder.record_gave_up("adx", attempts=1, elapsed_seconds=0.2)
    snapshot = recorder.snapshot()
    assert snapshot.summary() == (
        "retries: adx 1 (0.5 s waiting, gave up 1 times), mysql 3 (3.8 s waiting)")
    form = json.loads(json.dumps(snapshot["mysql"].to_dict()))
    assert form == {
        "calls": 2, "retries": 3, "calls_retried": 1, "wait_seconds": 3.75, "gave_up": 0,
        "gave_up_seconds": 0.0, "longest_attempts": 4, "calls_by_attempts": {"4": 1},
        "reasons": {"2003": 3},
        "bounds": {"max_attempts": 5, "max_seconds": None, "max_wait_seconds": 40.0},
    }


def test_summary_line_agrees_with_the_manifest_figure() -> None:
    """2.0504 s rounds to 2.05 in the manifest, which people read as 2.0 s, so the line says 2.0 too."""
    recorder = RetryRecorder()
    _call(recorder, "adx", 2, wait=2.0504)
    stats = recorder.snapshot()["adx"]
    manifest_wait = stats.to_dict()["wait_seconds"]
    assert manifest_wait == 2.05
    assert recorder.snapshot().summary() == f"retries: adx 1 ({manifest_wait:.1f} s waiting)"


class _RetryingSource(SyntheticSource):
    """A source whose connector needed ``retries`` retries (the device's parameter)."""

    def fetch(self) -> pd.DataFrame:
        retries.record_call("flaky", RetryBounds(4))
        for attempt in range(1, int(self.device.parameters.get("retries", 0)) + 1):
            retries.record_retry("flaky", attempt=attempt, wait_seconds=0.01, reason="HTTP 503")
        return super().fetch()


def _sources(device: DeviceUnit) -> dict[str, SyntheticSource]:
    return {"values": _RetryingSource(device)}


def test_a_run_reports_the_retries_of_its_own_fetches_only(tmp_path: Path) -> None:
    """Stage 1 threads report to the process-wide recorder; the run's window excludes the rest."""
    for attempt in (1, 2, 3):  # before the run: not the run's
        retries.record_retry("flaky", attempt=attempt, wait_seconds=0.5, reason="HTTP 503")
    devices = [DeviceUnit(f"d{i}", {"rows": 20, "retries": i % 4}) for i in range(10)]
    pipeline = Pipeline(
        _sources, no_normalizers, lambda device: [SummarizeValues()],  # type: ignore[arg-type]
        config=PipelineConfig(batch_size=3, io_max_workers=3),
    )
    with isolated_host():
        totals = run_into_ledger(pipeline, devices, Ledger(tmp_path / "out"), "fresh")
    retries.record_gave_up("flaky", attempts=9, elapsed_seconds=1.0)  # after the run: not its own
    flaky = totals.retries["flaky"]
    expected = [i % 4 for i in range(10)]
    assert flaky.retries == sum(expected)
    assert flaky.calls_retried == sum(n > 0 for n in expected)
    assert flaky.longest_attempts == max(expected) + 1
    assert flaky.calls == len(devices) and flaky.gave_up == 0
    section = retries_section(totals)
    assert section["flaky"]["retries"] == sum(expected)
    assert section["flaky"]["bounds"]["max_attempts"] == 4


def test_the_manifest_lists_the_connectors_the_run_called_even_without_retries() -> None:
    recorder = RetryRecorder()
    recorder.record_call("idle", RetryBounds(3))
    earlier = recorder.snapshot()
    recorder.record_call("quiet", RetryBounds(3))
    totals = RunTotals(retries=recorder.snapshot().since(earlier))
    section = retries_section(totals)
    assert list(section) == ["quiet"]  # "idle" made no call in the window
    assert section["quiet"]["calls"] == 1 and section["quiet"]["retries"] == 0
    assert section["quiet"]["bounds"]["max_attempts"] == 3
    assert totals.retries.summary() is None  # nothing to print
    assert RunTotals().retries == RetrySnapshot()

"""A run's output directory: ledger commits per batch, then the files people read.

``summary.csv`` / ``summary.parquet``, ``devices.jsonl``, ``manifest.json`` and
``report.html`` are always rebuilt from the ledger, so a resumed run produces
exactly what an uninterrupted one would.
"""

from __future__ import annotations

import json
import logging
import platform
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, distributions, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from meshinsights.ai_export import to_jsonable
from meshinsights.ledger import DeviceRecord, Ledger, atomic_write_text, counts_by_status, summary_frame
from meshinsights.redaction import redact
from meshinsights.results import BatchResults, ResultsAdapter, StageTiming
from meshinsights.retries import RetrySnapshot
from meshinsights.retries import snapshot as retries_snapshot
from meshinsights.timing import stage_report
from meshinsights.tuning import tuning_advice

if TYPE_CHECKING:
    from meshinsights.device import DeviceUnit
    from meshinsights.pipeline import Pipeline
    from meshinsights.run import PreparedRun

logger = logging.getLogger(__name__)

#: Builds ``report.html`` from the ledger records and the manifest.
ReportBuilder = Callable[[Path, Sequence[DeviceRecord], dict[str, Any]], str]

LIBRARIES = ("pandas", "numpy", "pandera", "pluggy", "pyarrow", "attrs", "cattrs")


@attrs.define
class RunTotals:
    """Counts and timings of one invocation, without holding any device's data."""

    run_id: str = ""
    mode: str = "fresh"
    started_at: str = attrs.field(factory=lambda: datetime.now(timezone.utc).isoformat())
    processed: int = 0
    successful: list[str] = attrs.field(factory=list)
    failed: list[str] = attrs.field(factory=list)
    skipped: list[str] = attrs.field(factory=list)
    io_timing: StageTiming = attrs.field(factory=StageTiming)
    cpu_timing: StageTiming = attrs.field(factory=StageTiming)
    wall_time: float = 0.0
    cpu_waited_for_io: float = 0.0
    data_sent_bytes: int = 0
    #: The connectors' retries during this invocation (every connector known to the process).
    retries: RetrySnapshot = attrs.field(factory=RetrySnapshot)
    #: Seconds the ledger writer spent committing batches (beside the run).
    write_busy_s: float = 0.0
    #: Seconds the run waited for the writer (the part of the writing it did not hide).
    write_waited_s: float = 0.0

    def add(self, batch: BatchResults) -> None:
        self.run_id = batch.run_id
        self.processed += batch.n_devices
        self.successful.extend(batch.successful_devices)
        self.failed.extend(batch.failed_devices)
        self.skipped.extend(batch.skipped_devices)
        self.io_timing.extend(batch.io_timing)
        self.cpu_timing.extend(batch.cpu_timing)
        self.cpu_waited_for_io += batch.cpu_waited_for_io
        self.data_sent_bytes += batch.data_sent_bytes

    def as_results(self) -> BatchResults:
        return BatchResults(
            successful_devices=self.successful, failed_devices=self.failed,
            skipped_devices=self.skipped, io_timing=self.io_timing, cpu_timing=self.cpu_timing,
            wall_time=self.wall_time, run_id=self.run_id, cpu_waited_for_io=self.cpu_waited_for_io,
            data_sent_bytes=self.data_sent_bytes,
        )


def run_into_ledger(
    pipeline: Pipeline, devices: Sequence[DeviceUnit], ledger: Ledger, mode: str
) -> RunTotals:
    """Run ``devices`` batch by batch, committing each batch to the ledger as it ends.

    A batch is written on a thread of its own while the next one runs (writing
    each device's artifacts as Parquet costs about as much as processing it),
    and at most one batch waits to be written, so memory stays bounded. A write
    that fails stops the run at the next batch; the devices of batches not yet
    recorded are run again by ``--resume``.
    """
    totals = RunTotals(mode=mode)
    retried_before = retries_snapshot()
    started = time.perf_counter()
    with ThreadPoolExecutor(1, thread_name_prefix="meshinsights-ledger") as writer:
        writing: Future[float] | None = None
        try:
            for batch in pipeline.iter_batches(devices):
                summary = batch.to_dataframe()
                previous, writing = writing, None
                totals.write_waited_s += _finish(previous, totals)
                writing = writer.submit(_record, ledger, batch, summary)
                totals.add(batch)
        except BaseException:
            if writing is not None:  # still commit it; its own error must not hide the run's
                try:
                    _finish(writing, totals)
                except Exception:
                    logger.exception("writing the last batch's results failed too")
            raise
        totals.write_waited_s += _finish(writing, totals)
    totals.wall_time = time.perf_counter() - started
    totals.retries = retries_snapshot().since(retried_before)
    totals.run_id = totals.run_id or uuid.uuid4().hex[:12]  # nothing left to run
    return totals


def _record(ledger: Ledger, batch: BatchResults, summary: Any) -> float:
    """Commit one batch; the seconds it took."""
    started = time.perf_counter()
    ledger.record_batch(batch, summary)
    return time.perf_counter() - started


def _finish(writing: Future[float] | None, totals: RunTotals) -> float:
    """Wait for the batch being written (its error is raised here); the seconds waited."""
    if writing is None:
        return 0.0
    started = time.perf_counter()
    totals.write_busy_s += writing.result()
    return time.perf_counter() - started


def package_versions() -> dict[str, str]:
    """Versions of every installed meshinsights package and of the main libraries."""
    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("meshinsights"):
            found[name] = dist.version
    for library in LIBRARIES:
        try:
            found[library] = version(library)
        except PackageNotFoundError:
            continue
    found["python"] = platform.python_version()
    return dict(sorted(found.items()))


def plugin_versions() -> list[dict[str, Any]]:
    from meshinsights.plugins import get_host

    return [
        {"plugin": r.name, "distribution": r.distribution, "version": r.version,
         "status": "blocked" if r.blocked else ("error" if r.error else "ok")}
        for r in get_host().records.values()
    ]


def retries_section(totals: RunTotals) -> dict[str, Any]:
    """Per connector used by this invocation: its calls, retries, and the bounds they kept to."""
    return {name: stats.to_dict() for name, stats in totals.retries.used().items()}


def build_manifest(
    prepared: PreparedRun, totals: RunTotals, records: Sequence[DeviceRecord], previous_runs: list[Any]
) -> dict[str, Any]:
    config = prepared.config
    this_run = {
        "run_id": totals.run_id,
        "mode": totals.mode,
        "started_at": totals.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "devices_processed": totals.processed,
        "devices_failed": len(totals.failed),
        **stage_report(totals.as_results()),
        "tuning": tuning_advice(
            totals.as_results(), prepared.pipeline.config,
            output_busy_s=totals.write_busy_s, output_waited_s=totals.write_waited_s,
        ).to_dict(),
    }
    retried = retries_section(totals)
    runs = [*previous_runs, {**this_run, "retries": retried}]
    return {
        "run_id": totals.run_id,
        "solution": config.pipeline.solution,
        "config": {
            "path": config.path.name if config.path else None,
            "pipeline": to_jsonable(attrs.asdict(config.pipeline)),
            "connection": redact(config.connection),
            "devices": {
                "csv": config.devices.csv,
                "inline": [redact(device) for device in config.devices.inline],
            },
            "output": to_jsonable(attrs.asdict(config.output)),
            "parameters": redact(config.parameters),
        },
        "devices": {"total": len(records), "by_status": counts_by_status(records)},
        "timing": this_run,
        "retries": retried,
        "runs": runs,
        "plugins": plugin_versions(),
        "packages": package_versions(),
    }


def finalize_outputs(
    prepared: PreparedRun, ledger: Ledger, totals: RunTotals, report_builder: ReportBuilder | None
) -> dict[str, str]:
    """Rebuild the summary, JSONL export, manifest and report from the ledger."""
    out_dir = ledger.out_dir
    wanted = {d.device_id for d in prepared.devices}
    records = [r for r in ledger.records() if r.device_id in wanted]
    formats = prepared.config.output.formats
    adapter = prepared.pipeline.results_adapter or ResultsAdapter()
    columns = list(adapter.to_dataframe(BatchResults()).columns)
    summary = summary_frame(records, columns)
    written: dict[str, str] = {}
    if "csv" in formats:
        summary.to_csv(out_dir / "summary.csv", index=False)
        written["summary.csv"] = str(out_dir / "summary.csv")
    if "parquet" in formats:
        summary.to_parquet(out_dir / "summary.parquet", index=False)
        written["summary.parquet"] = str(out_dir / "summary.parquet")
    lines = [json.dumps(r.document, sort_keys=True) for r in sorted(records, key=lambda r: r.device_id)]
    atomic_write_text(out_dir / "devices.jsonl", "\n".join(lines) + ("\n" if lines else ""))
    written["devices.jsonl"] = str(out_dir / "devices.jsonl")
    manifest_path = out_dir / "manifest.json"
    previous = json.loads(manifest_path.read_text())["runs"] if manifest_path.exists() else []
    manifest = build_manifest(prepared, totals, records, previous)
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=to_jsonable))
    written["manifest.json"] = str(manifest_path)
    if "html" in formats:
        from meshinsights.report import generic_report

        builder = report_builder or generic_report
        atomic_write_text(out_dir / "report.html", builder(out_dir, records, manifest))
        written["report.html"] = str(out_dir / "report.html")
    return written

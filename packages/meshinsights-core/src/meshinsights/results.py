"""Stage 1 and run results: IOBatch, timings, BatchResults and ResultsAdapter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from meshinsights.data_object import PipelineDataObject
from meshinsights.messages import Message

if TYPE_CHECKING:
    import pandas as pd


@attrs.define
class StageSpan:
    """When one stage ran for one batch, in seconds since the run started."""

    batch_index: int
    start: float
    end: float
    n_devices: int

    @property
    def seconds(self) -> float:
        return self.end - self.start


@attrs.define
class StageTiming:
    """Busy time of a stage per device, and its span per batch."""

    per_device: dict[str, float] = attrs.field(factory=dict)
    per_batch: list[StageSpan] = attrs.field(factory=list)

    @property
    def total(self) -> float:
        """Sum of per-device busy time (worker-seconds)."""
        return sum(self.per_device.values())

    def extend(self, other: StageTiming) -> None:
        self.per_device.update(other.per_device)
        self.per_batch.extend(other.per_batch)


@attrs.define
class IOBatch:
    """Stage 1's output for one batch: normalized datasets and what went wrong."""

    device_data: dict[str, dict[str, pd.DataFrame]] = attrs.field(factory=dict)
    device_metadata: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    errors: dict[str, list[Message]] = attrs.field(factory=dict)
    warnings: dict[str, list[Message]] = attrs.field(factory=dict)
    timing: StageTiming = attrs.field(factory=StageTiming)
    batch_index: int = 0

    def for_device(self, device_id: str) -> IOBatch:
        """This batch cut down to one device: what a task for another process carries."""
        return IOBatch(
            device_data={device_id: self.device_data.get(device_id, {})},
            device_metadata={device_id: self.device_metadata.get(device_id, {})},
            errors={device_id: self.errors[device_id]} if device_id in self.errors else {},
            warnings={device_id: self.warnings[device_id]} if device_id in self.warnings else {},
            batch_index=self.batch_index,
        )


@attrs.define
class BatchResults:
    """Per-device data objects, success/failure lists and stage timings of a run."""

    device_results: dict[str, PipelineDataObject] = attrs.field(factory=dict)
    successful_devices: list[str] = attrs.field(factory=list)
    failed_devices: list[str] = attrs.field(factory=list)
    io_timing: StageTiming = attrs.field(factory=StageTiming)
    cpu_timing: StageTiming = attrs.field(factory=StageTiming)
    wall_time: float = 0.0
    skipped_devices: list[str] = attrs.field(factory=list)
    stopped_early: bool = False
    run_id: str = ""
    #: Seconds Stage 2 sat waiting for Stage 1 to deliver (I/O was the bottleneck).
    cpu_waited_for_io: float = 0.0
    #: Bytes of normalized data sent with the devices to Stage 2's worker processes
    #: (processes and Dask executors, without ``fetch_in_workers``).
    data_sent_bytes: int = 0
    results_adapter: ResultsAdapter | None = attrs.field(default=None, repr=False)

    @property
    def n_devices(self) -> int:
        return len(self.device_results)

    def add_device(self, data_object: PipelineDataObject, device_id: str) -> None:
        self.device_results[device_id] = data_object
        (self.failed_devices if data_object.failed else self.successful_devices).append(device_id)

    def merge(self, other: BatchResults) -> None:
        """Fold a batch's results into these run results."""
        self.device_results.update(other.device_results)
        self.successful_devices.extend(other.successful_devices)
        self.failed_devices.extend(other.failed_devices)
        self.skipped_devices.extend(other.skipped_devices)
        self.io_timing.extend(other.io_timing)
        self.cpu_timing.extend(other.cpu_timing)
        self.stopped_early = self.stopped_early or other.stopped_early
        self.cpu_waited_for_io += other.cpu_waited_for_io
        self.data_sent_bytes += other.data_sent_bytes

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "devices": self.n_devices,
            "successful": len(self.successful_devices),
            "failed": len(self.failed_devices),
            "skipped": len(self.skipped_devices),
            "stopped_early": self.stopped_early,
            "wall_time_s": round(self.wall_time, 6),
            "io_busy_s": round(self.io_timing.total, 6),
            "cpu_busy_s": round(self.cpu_timing.total, 6),
        }

    def to_dataframe(self) -> pd.DataFrame:
        """The results adapter's table (the pipeline's adapter, or the generic one)."""
        adapter = self.results_adapter or ResultsAdapter()
        return adapter.to_dataframe(self)


class ResultsAdapter:
    """Turns run results into a table; solutions subclass it for their own columns."""

    columns: tuple[str, ...] = (
        "device_id", "status", "n_artifacts", "n_errors", "n_warnings",
        "first_error", "io_seconds", "cpu_seconds",
    )

    def rows(self, results: BatchResults) -> Iterable[dict[str, Any]]:
        for device_id, dobj in results.device_results.items():
            yield {
                "device_id": device_id,
                "status": dobj.status,
                "n_artifacts": len(dobj.artifacts),
                "n_errors": len(dobj.errors),
                "n_warnings": len(dobj.warnings),
                "first_error": dobj.errors[0].message if dobj.errors else None,
                "io_seconds": results.io_timing.per_device.get(device_id),
                "cpu_seconds": results.cpu_timing.per_device.get(device_id),
            }

    def to_dataframe(self, results: BatchResults) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(list(self.rows(results)), columns=list(self.columns))

"""Progress observers: lifecycle-hook plugins the CLI registers for a run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from meshinsights.markers import hookimpl

if TYPE_CHECKING:
    from meshinsights.data_object import PipelineDataObject
    from meshinsights.device import DeviceUnit
    from meshinsights.results import BatchResults

logger = logging.getLogger("meshinsights.progress")


class LogProgress:
    """Plain log lines per batch, for logs and pipes (no terminal)."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.failed = 0

    @hookimpl
    def on_run_start(self, devices: Sequence[DeviceUnit], run_id: str) -> None:
        self.total = len(devices)
        logger.info("run %s started: %d devices", run_id, self.total)

    @hookimpl
    def on_batch_end(self, batch_index: int, results: BatchResults, run_id: str) -> None:
        self.done += results.n_devices + len(results.skipped_devices)
        self.failed += len(results.failed_devices)
        logger.info(
            "run %s: batch %d done, %d/%d devices (%d failed)",
            run_id, batch_index + 1, self.done, self.total, self.failed,
        )


class RichProgress:
    """A progress bar on a terminal, advanced per finished device."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
            console=console, transient=False,
        )
        self.task: Any = None

    @hookimpl
    def on_run_start(self, devices: Sequence[DeviceUnit], run_id: str) -> None:
        self.progress.start()
        self.task = self.progress.add_task(f"run {run_id}", total=len(devices), failed=0)

    @hookimpl
    def on_device_end(self, device_id: str, data_object: PipelineDataObject, run_id: str) -> None:
        failed = self.progress.tasks[0].fields["failed"] + (1 if data_object.failed else 0)
        self.progress.update(self.task, advance=1, failed=failed)

    @hookimpl
    def on_run_end(self, results: BatchResults, run_id: str) -> None:
        self.progress.stop()

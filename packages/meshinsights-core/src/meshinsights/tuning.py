"""After a run: where the time went, and worker counts and batch size to try next.

The advice follows from the measured busy times. Stage 1 keeps up when its
workers can fetch a device in the time Stage 2 spends on one; Stage 2 keeps up
when it has enough workers (processes, for pure-Python CPU work) for its busy
time; a batch should be small enough that many batches overlap, and large
enough that its fixed costs (a batched query, hand-offs) stay small; and when
each device's data is large, moving it to a worker process costs more than
letting the worker fetch it (``fetch_in_workers``).
"""

from __future__ import annotations

import math
import os
from typing import Any

import attrs

from meshinsights.pipeline_config import PipelineConfig
from meshinsights.results import BatchResults
from meshinsights.timing import stage_report

MAX_IO_WORKERS = 32


@attrs.frozen
class TuningAdvice:
    """Measured stage times and suggested settings, with the reasons."""

    io_busy_s: float
    cpu_busy_s: float
    cpu_waited_for_io_s: float
    io_waited_for_cpu_s: float
    overlap_fraction: float
    bottleneck: str
    io_max_workers: int
    cpu_max_workers: int
    executor: str
    batch_size: int
    reasons: tuple[str, ...]
    #: Whether to fetch in the workers (``[pipeline] fetch_in_workers``).
    fetch_in_workers: bool = False
    #: Seconds spent committing results (the CLI's ledger writer, beside the run).
    output_busy_s: float = 0.0
    #: Seconds the run waited for that writer: the part of the writing it could not hide.
    output_waited_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def lines(self) -> list[str]:
        written = (
            f"; results written in {self.output_busy_s:.2f} s beside the run, which waited "
            f"{self.output_waited_s:.2f} s for them" if self.output_busy_s else ""
        )
        return [
            f"I/O busy {self.io_busy_s:.2f} s, CPU busy {self.cpu_busy_s:.2f} s, "
            f"overlap {self.overlap_fraction:.0%}; Stage 2 waited {self.cpu_waited_for_io_s:.2f} s "
            f"for I/O, I/O workers idled {self.io_waited_for_cpu_s:.2f} s{written}",
            f"bottleneck: {self.bottleneck}; try io_max_workers = {self.io_max_workers}, "
            f"cpu_max_workers = {self.cpu_max_workers}, executor = \"{self.executor}\", "
            f"batch_size = {self.batch_size}"
            + (", fetch_in_workers = true" if self.fetch_in_workers else ""),
            *(f"  - {reason}" for reason in self.reasons),
        ]


def tuning_advice(
    results: BatchResults, config: PipelineConfig, *,
    output_busy_s: float = 0.0, output_waited_s: float = 0.0,
) -> TuningAdvice:
    """The advice for a finished run; ``output_*``: what writing its results cost, if known."""
    advice = _stage_advice(results, config)
    if not output_busy_s:
        return advice
    wall = max(results.wall_time, 1e-9)
    devices = max(1, len(results.io_timing.per_device))
    reasons = advice.reasons
    bottleneck = advice.bottleneck
    if output_waited_s > max(0.2 * wall, results.cpu_waited_for_io):
        bottleneck = "output"
        reasons = (
            f"the run waited {output_waited_s:.2f} s for its results to be written "
            f"({1000 * output_busy_s / devices:.0f} ms per device, mostly each DataFrame "
            "artifact's Parquet file): writing, not the pipeline, set the pace; keep fewer "
            "artifacts ([output] artifacts) or use a faster disk, more workers will not help",
            *reasons,
        )
    return attrs.evolve(
        advice, bottleneck=bottleneck, reasons=reasons,
        output_busy_s=round(output_busy_s, 3), output_waited_s=round(output_waited_s, 3),
    )


def _stage_advice(results: BatchResults, config: PipelineConfig) -> TuningAdvice:
    report = stage_report(results)
    devices = max(1, len(results.io_timing.per_device))
    io_busy, cpu_busy, wall = report["io_busy_s"], report["cpu_busy_s"], max(report["wall_time_s"], 1e-9)
    io_idle = max(0.0, config.io_max_workers * wall - io_busy)
    reasons: list[str] = []
    cores = os.cpu_count() or 1
    if config.fetch_in_workers:
        return _workers_advice(results, config, report, devices, cores)

    cpu_workers, executor = config.cpu_max_workers, config.executor
    # Threads share one GIL: pure-Python Stage 2 work saturates at about one core.
    usable = 1 if executor == "threads" else config.cpu_max_workers
    cpu_saturated = cpu_busy >= 0.7 * wall * usable
    if cpu_saturated and executor == "threads" and cores > 1:
        cpu_workers, executor = cores, "processes"
        reasons.append(
            f"Stage 2 kept its {config.cpu_max_workers} thread(s) busy; Python CPU work scales "
            f"across cores with processes ({cores} cores here)"
        )
    elif cpu_saturated and config.cpu_max_workers < cores:
        cpu_workers = cores
        reasons.append(f"Stage 2 was saturated; use all {cores} cores")

    # Enough I/O workers that fetching a device takes no longer than processing one.
    io_per_device = io_busy / devices
    cpu_per_device = cpu_busy / devices / max(1, cpu_workers)
    needed = math.ceil(io_per_device / max(cpu_per_device, 1e-6)) if cpu_per_device > 0 else 1
    io_workers = min(MAX_IO_WORKERS, max(1, needed))
    if io_workers > config.io_max_workers and results.cpu_waited_for_io > 0.1 * wall:
        reasons.append(
            f"Stage 2 waited {results.cpu_waited_for_io:.2f} s for data: a device takes "
            f"{io_per_device * 1000:.0f} ms to fetch and {cpu_per_device * 1000:.0f} ms to process"
        )
    elif io_workers < config.io_max_workers:
        reasons.append(f"{config.io_max_workers} I/O workers idled {io_idle:.1f} worker-seconds")
    else:
        io_workers = config.io_max_workers

    fetch_in_workers = _fetch_in_workers(results, executor, devices, reasons)
    batch_size = _batch_size(results, config, devices, reasons)
    if not reasons:
        reasons.append("both stages kept up with each other; the settings fit this workload")
    cpu_load = cpu_busy / usable
    bottleneck = "cpu" if cpu_load >= io_busy / config.io_max_workers else "io"
    return TuningAdvice(
        io_busy_s=round(io_busy, 3), cpu_busy_s=round(cpu_busy, 3),
        cpu_waited_for_io_s=round(results.cpu_waited_for_io, 3),
        io_waited_for_cpu_s=round(io_idle, 3), overlap_fraction=report["overlap_fraction"],
        bottleneck=bottleneck, io_max_workers=io_workers, cpu_max_workers=cpu_workers,
        executor=executor, batch_size=batch_size, reasons=tuple(reasons),
        fetch_in_workers=fetch_in_workers,
    )


#: Normalized data per device from which fetching in the workers is suggested. Moving a
#: megabyte to a worker process and the results back cost 8-12 ms of CPU on the 2-core
#: machine of benchmarks/README.md (Scale, part a): about what an HVAC device's
#: processors cost, and more than fetching the device in the worker.
FETCH_IN_WORKERS_BYTES = 256 * 1024


def _fetch_in_workers(results: BatchResults, executor: str, devices: int, reasons: list[str]) -> bool:
    """Whether the devices' data was large enough that the workers should fetch it themselves."""
    per_device = results.data_sent_bytes / devices
    if executor == "threads" or per_device < FETCH_IN_WORKERS_BYTES:
        return False
    needs = (" (on Dask, every worker then needs the connectors and the credentials)"
             if executor == "dask" else "")
    reasons.append(
        f"each device's normalized data, {per_device / 1e6:.2f} MB on average, was sent to a "
        "worker process and its results came back: with fetch_in_workers = true only the device "
        f"is sent, and the worker fetches it (one query per worker's share of a batch){needs}"
    )
    return True


def _workers_advice(
    results: BatchResults, config: PipelineConfig, report: dict[str, float], devices: int, cores: int
) -> TuningAdvice:
    """``fetch_in_workers``: one pool of workers does both stages; size it for their mix.

    While a worker waits on its fetch its core is free, so when fetching takes
    longer than processing, more workers than cores keep the cores busy.
    """
    io_busy, cpu_busy, wall = report["io_busy_s"], report["cpu_busy_s"], max(report["wall_time_s"], 1e-9)
    workers = config.cpu_max_workers
    busy = (io_busy + cpu_busy) / (wall * workers)
    reasons = [
        f"fetch_in_workers: each of the {workers} workers fetched and processed its devices "
        f"(busy {busy:.0%} of the run); io_max_workers is not used"
    ]
    io_ms, cpu_ms = 1000 * io_busy / devices, 1000 * cpu_busy / devices
    wanted = workers
    if io_busy > cpu_busy:
        wanted = min(4 * cores, math.ceil(cores * (io_busy + cpu_busy) / max(cpu_busy, 1e-9)))
        if wanted > workers:
            reasons.append(
                f"a device took {io_ms:.0f} ms to fetch and {cpu_ms:.0f} ms to process: more "
                "workers than cores hide the fetches (or fetch_in_workers = false, with I/O threads)"
            )
        else:
            wanted = workers
    elif workers < cores:
        wanted = cores
        reasons.append(f"fetching and processing are CPU work here; use all {cores} cores")
    batch_size = _batch_size(results, config, devices, reasons)
    return TuningAdvice(
        io_busy_s=round(io_busy, 3), cpu_busy_s=round(cpu_busy, 3),
        cpu_waited_for_io_s=round(results.cpu_waited_for_io, 3), io_waited_for_cpu_s=0.0,
        overlap_fraction=report["overlap_fraction"], bottleneck="io" if io_busy > cpu_busy else "cpu",
        io_max_workers=config.io_max_workers, cpu_max_workers=wanted, executor=config.executor,
        batch_size=batch_size, reasons=tuple(reasons), fetch_in_workers=True,
    )


def _batch_size(results: BatchResults, config: PipelineConfig, devices: int, reasons: list[str]) -> int:
    """Enough batches that the stages overlap early; adds its reason when it changes."""
    batches = max(1, len(results.io_timing.per_batch))
    if batches < 4 * (config.queue_size + 1) and devices >= 8:
        batch_size = max(1, devices // (4 * (config.queue_size + 1)))
        if batch_size < config.batch_size:
            reasons.append(
                f"only {batches} batches: smaller batches overlap the stages sooner "
                "(the first batch's fetch is never hidden)"
            )
            return batch_size
    return config.batch_size


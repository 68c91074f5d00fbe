"""PipelineConfig: how a pipeline batches, parallelizes and reacts to failures."""

from __future__ import annotations

import attrs
from attrs import validators as v

_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def _upper(value: object) -> str:
    return str(value).upper()


@attrs.frozen(kw_only=True)
class PipelineConfig:
    """Settings of one pipeline run.

    ``queue_size`` batches of Stage 1 data may wait for Stage 2 (2 = double
    buffering), so memory is bounded by batch size and queue size, never by
    the number of devices.
    """

    pipeline_name: str = "meshinsights"
    stop_on_error: bool = False
    log_level: str = attrs.field(default="INFO", converter=_upper, validator=v.in_(_LOG_LEVELS))
    batch_size: int = attrs.field(default=10, validator=[v.instance_of(int), v.ge(1)])
    freeze_normalized_data: bool = True
    io_max_workers: int = attrs.field(default=1, validator=[v.instance_of(int), v.ge(1)])
    cpu_max_workers: int = attrs.field(default=1, validator=[v.instance_of(int), v.ge(1)])
    queue_size: int = attrs.field(default=2, validator=[v.instance_of(int), v.ge(1)])
    #: Keep each device's normalized datasets on its data object after Stage 2.
    retain_normalized_data: bool = True
    #: Close pooled connectors when a run ends.
    cleanup_connections: bool = True
    #: GIL switch interval while a run overlaps I/O threads with Python CPU work
    #: (None leaves the interpreter's setting alone). With the default 5 ms, an
    #: I/O thread whose wait is over queues up to 5 ms for the GIL behind Stage
    #: 2's pure-Python work, so the I/O workers fall behind; 0.1 ms keeps them
    #: on time (benchmarks/bench_runner.py, part b) and costs nothing measurable
    #: when no thread waits.
    gil_switch_interval: float | None = 0.0001
    #: Let data sources that can (``DataSource.build_batch``) fetch a whole batch
    #: of devices in one query, each device getting its own rows.
    batch_fetch: bool = True
    #: Where Stage 2 runs: ``threads``, ``processes`` (a spawn process pool) or
    #: ``dask`` (a LocalCluster for the run, or the cluster at ``dask_scheduler``).
    executor: str = attrs.field(default="threads", validator=v.in_(("threads", "processes", "dask")))
    dask_scheduler: str | None = None
    #: With ``processes`` or ``dask``: each worker runs both stages of its
    #: devices (fetch, normalize, processors) and sends back only the data
    #: object, so no normalized frame crosses a process boundary and Stage 1's
    #: Python work (normalization) runs on every core, not in this process.
    #: Devices are fetched one by one (no batched queries) and ``io_timeout``
    #: bounds a device's whole task together with ``cpu_time_limit``. The
    #: connectors must be installed where the workers run.
    fetch_in_workers: bool = attrs.field(default=False)
    #: Seconds one device's Stage 1 (fetch and normalize) may take before it is
    #: abandoned as failed; its thread is replaced. None: wait as long as it takes.
    io_timeout: float | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    #: Seconds one device's Stage 2 may take before it is reported as failed
    #: (and, on the processes executor, stopped). None: no limit.
    cpu_time_limit: float | None = attrs.field(
        default=None, validator=v.optional(v.gt(0))
    )

    @fetch_in_workers.validator
    def _check_fetch_in_workers(self, _: attrs.Attribute[bool], value: bool) -> None:
        if value and self.executor == "threads":
            raise ValueError(
                'fetch_in_workers needs executor = "processes" or "dask" (threads already share '
                "this process with Stage 1)"
            )

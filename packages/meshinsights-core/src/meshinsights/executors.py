"""Where Stage 2 runs: threads, a process pool, or a Dask cluster.

All three are ``concurrent.futures.Executor``\\ s, so the runner drives them the
same way. Work sent to processes or Dask crosses a process boundary: the
pipeline (its factories) is pickled once, checked before any work starts, and
set up once per worker process; each task carries one device and its
normalized data, and returns the device's data object. With
``fetch_in_workers`` a task carries only devices, a group of them per worker
and batch: the worker fetches them (one batched query for the group where the
sources allow) and normalizes them too, its connectors pooled in the worker,
and returns their data objects with Stage 1's metadata and timing.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import pickle
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from meshinsights.connectors import PluginManager
from meshinsights.data_object import PipelineDataObject
from meshinsights.errors import ConfigError

if TYPE_CHECKING:
    from meshinsights.device import DeviceUnit
    from meshinsights.pipeline import DeviceOutcome, Pipeline
    from meshinsights.results import IOBatch

logger = logging.getLogger(__name__)
T = TypeVar("T")

EXECUTORS = ("threads", "processes", "dask")
_PICKLED_PARTS = (
    "data_source_factory", "normalizer_factory", "processor_factory",
    "data_object_factory", "results_adapter",
)


def pipeline_blob(pipeline: Pipeline, executor: str) -> bytes:
    """The pickled pipeline, or a ConfigError naming the part that cannot cross processes.

    With ``fetch_in_workers`` the connectors registered here by
    ``PluginManager.register_plugin`` go along (installed ones the workers
    discover themselves), so a worker's data sources find the same classes.
    """
    connectors: dict[str, type] = {}
    if pipeline.config.fetch_in_workers:
        for name, connector_cls in PluginManager.registered_classes().items():
            try:
                pickle.dumps(connector_cls)
            except Exception as exc:  # noqa: BLE001 - maybe not a connector this run uses
                logger.warning(
                    "fetch_in_workers: the connector %r registered here (%r) cannot be sent to "
                    "the workers (%s: %s); a device that needs it will fail there: define it at "
                    "module level, or install it as a plugin",
                    name, connector_cls, type(exc).__name__, exc,
                )
                continue
            connectors[name] = connector_cls
    for part in _PICKLED_PARTS:
        value = getattr(pipeline, part)
        try:
            pickle.dumps(value)
        except Exception as exc:  # noqa: BLE001 - any pickling failure is reported the same way
            raise ConfigError(
                f"the {executor!r} executor sends work to other processes, but the pipeline's "
                f"{part} ({value!r}) cannot be pickled ({type(exc).__name__}: {exc}); use "
                "module-level functions or classes, not lambdas, closures or local classes"
            ) from None
    return pickle.dumps((pipeline, connectors))


def datasets_nbytes(datasets: Mapping[str, Any]) -> int:
    """The in-memory size of a device's DataFrame datasets (what pickling copies)."""
    import pandas as pd

    return sum(int(column.array.nbytes) for frame in datasets.values()
               if isinstance(frame, pd.DataFrame) for _, column in frame.items())


def check_device_picklable(device: DeviceUnit, executor: str) -> None:
    try:
        pickle.dumps(device)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(
            f"the {executor!r} executor cannot send device {device.device_id!r} to another process: "
            f"its parameters cannot be pickled ({type(exc).__name__}: {exc})"
        ) from None


# -- worker side ---------------------------------------------------------------
_worker_pipeline: Pipeline | None = None


def _load_pipeline(blob: bytes) -> Pipeline:
    """The pipeline of ``pipeline_blob``, with the connectors registered where the run began."""
    pipeline: Pipeline
    pipeline, connectors = pickle.loads(blob)
    for name, connector_cls in connectors.items():
        PluginManager.register_plugin(name, connector_cls)
    return pipeline


def _init_process_worker(blob: bytes) -> None:
    """Per-worker set-up: unpickle the pipeline (importing its modules) once."""
    global _worker_pipeline
    _worker_pipeline = _load_pipeline(blob)


@lru_cache(maxsize=4)
def _pipeline_from_blob(blob: bytes) -> Pipeline:
    return _load_pipeline(blob)


def worker_ready() -> bool:
    """A no-op task: once every worker has answered one, the pool is up."""
    return _worker_pipeline is not None


def warm_dask_worker(blob: bytes) -> bool:
    """Unpickle the pipeline (importing its modules) before the worker's first device."""
    return _pipeline_from_blob(blob) is not None


def process_in_worker(device: DeviceUnit, io_batch: IOBatch) -> PipelineDataObject:
    """Stage 2 of one device in a process-pool worker."""
    assert _worker_pipeline is not None, "worker started without _init_process_worker"
    return _worker_pipeline.process_device(device, io_batch)


def process_in_dask_worker(blob: bytes, device: DeviceUnit, io_batch: IOBatch) -> PipelineDataObject:
    """Stage 2 of one device on a Dask worker (the pipeline is unpickled once per worker)."""
    return _pipeline_from_blob(blob).process_device(device, io_batch)


def run_in_worker(device: DeviceUnit) -> DeviceOutcome:
    """Both stages of one device in a process-pool worker (``fetch_in_workers``)."""
    assert _worker_pipeline is not None, "worker started without _init_process_worker"
    return _worker_pipeline.run_device(device)


def run_in_dask_worker(blob: bytes, device: DeviceUnit) -> DeviceOutcome:
    """Both stages of one device on a Dask worker (``fetch_in_workers``)."""
    return _pipeline_from_blob(blob).run_device(device)


def run_group_in_worker(devices: Sequence[DeviceUnit]) -> list[DeviceOutcome]:
    """Both stages of a group of devices in a process-pool worker, one batched fetch for them."""
    assert _worker_pipeline is not None, "worker started without _init_process_worker"
    return _worker_pipeline.run_devices(devices)


def run_group_in_dask_worker(blob: bytes, devices: Sequence[DeviceUnit]) -> list[DeviceOutcome]:
    """Both stages of a group of devices on a Dask worker, one batched fetch for them."""
    return _pipeline_from_blob(blob).run_devices(devices)


class GroupShare:
    """One device's part of a task that ran a group of devices: its result, or the task's error."""

    __slots__ = ("future", "position")

    def __init__(self, future: Future[list[DeviceOutcome]], position: int) -> None:
        self.future = future
        self.position = position

    def result(self, timeout: float | None = None) -> DeviceOutcome:
        return self.future.result(timeout)[self.position]

    def cancel(self) -> bool:
        return self.future.cancel()


def group_sizes(n_devices: int, workers: int) -> list[int]:
    """A batch split into one group per worker, as even as can be (10 over 4: 3, 3, 2, 2)."""
    groups = min(n_devices, workers)
    size, rest = divmod(n_devices, groups) if groups else (0, 0)
    return [size + 1] * rest + [size] * (groups - rest)


# -- executors -----------------------------------------------------------------
@contextmanager
def process_executor(workers: int, blob: bytes) -> Iterator[Executor]:
    """A spawn-based process pool (forking a process that runs I/O threads is unsafe)."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_process_worker,
        initargs=(blob,),
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def dask_executor(workers: int, scheduler: str | None, blob: bytes = b"") -> Iterator[Executor]:
    """``distributed.Client.get_executor()`` on a given scheduler or a LocalCluster for the run.

    With ``blob``, each worker present unpickles the pipeline at once (a task of
    its own, not waited for), so its imports overlap the first batch's fetch.
    The run's own LocalCluster is closed on a thread of its own (not a daemon:
    the interpreter waits for it before exiting): every result is in by then,
    and stopping the scheduler and worker processes takes half a second.
    """
    from distributed import Client, LocalCluster, fire_and_forget

    cluster = None
    if scheduler:
        client = Client(scheduler, set_as_default=False)
    else:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            # No dashboard, and the scheduler's HTTP server on a free port: the default
            # 8787 may be another cluster's (or the previous run's, still closing).
            dashboard_address=":0", scheduler_kwargs={"dashboard": False},
        )
        client = Client(cluster, set_as_default=False)
    try:
        logger.info("dask executor on %s", scheduler or f"a LocalCluster of {workers} workers")
        if blob:  # kept by the scheduler until done, though nobody holds the futures
            fire_and_forget([
                client.submit(warm_dask_worker, blob, workers=[address], pure=False)
                for address in client.scheduler_info()["workers"]
            ])
        yield client.get_executor(pure=False)
    finally:
        client.close()
        if cluster is not None:
            threading.Thread(target=_close_cluster, args=(cluster,), name=CLUSTER_CLOSER).start()


#: The name of the thread that closes a run's LocalCluster.
CLUSTER_CLOSER = "meshinsights-dask-close"


def _close_cluster(cluster: Any) -> None:
    try:
        cluster.close()
    except Exception:  # nobody waits for this thread: logged, not raised
        logger.warning("closing the run's LocalCluster failed", exc_info=True)


def check_dask_installed() -> None:
    if importlib.util.find_spec("distributed") is None:
        raise ConfigError(
            "executor = \"dask\" needs Dask: pip install \"meshinsights-core[dask]\""
        )


def in_background(work: Callable[[], T], name: str) -> Future[T]:
    """``work()`` on a thread of its own; its value or exception in the future."""
    future: Future[T] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(work())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def thread_executor(workers: int) -> Executor:
    return ThreadPoolExecutor(workers, thread_name_prefix="meshinsights-cpu")


def describe(executor: str, workers: int, scheduler: str | None) -> dict[str, Any]:
    return {"executor": executor, "cpu_workers": workers, "scheduler": scheduler}


class Stage2Runner:
    """Submits devices to the configured executor and collects their data objects.

    A process pool broken by a dying worker is replaced, and each device it
    held is retried once, one at a time, so that only a device that kills its
    worker again fails. A device past ``cpu_time_limit`` is reported as failed;
    on the processes executor its worker is stopped too. With
    ``fetch_in_workers`` a task is both stages of a device (``io_batch`` None),
    and its limit is ``io_timeout`` plus ``cpu_time_limit``.
    """

    def __init__(self, pipeline: Pipeline, blob: bytes | None = None) -> None:
        """``blob``: the run's ``pipeline_blob`` when the caller made it already."""
        config = pipeline.config
        self.pipeline = pipeline
        self.kind = config.executor
        self.workers = config.cpu_max_workers
        self.limit = config.cpu_time_limit
        self._limit_name = "CPU time limit"
        if config.fetch_in_workers and config.io_timeout is not None:
            self.limit = config.io_timeout + (config.cpu_time_limit or 0.0)
            self._limit_name = "time limit (io_timeout + cpu_time_limit)"
        self._blob = blob or b""
        self._pool: Executor | None = None
        self._starting: Future[Executor] | None = None
        self._context: Any = None
        #: Retry rounds after a broken pool / stopped worker, for the tuning report.
        self.restarts = 0
        #: Bytes of normalized data sent to the workers so far (see ``take_data_sent``).
        self.data_sent_bytes = 0
        self._abandoned = False

    @property
    def inline(self) -> bool:
        """One thread worker and no time limit: run in the consumer, no hand-off at all."""
        return self.kind == "threads" and self.workers == 1 and self.limit is None

    def __enter__(self) -> Stage2Runner:
        if self.kind != "threads" and not self._blob:
            self._blob = pipeline_blob(self.pipeline, self.kind)
        if not self.inline:
            self._open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close()

    def _open(self) -> None:
        if self.kind == "processes":
            self._context = process_executor(self.workers, self._blob)
            self._pool = self._context.__enter__()
            # Spawn every worker now (imports, the pipeline unpickled): they start while
            # the first batches' Stage 1 runs, not when its first device is submitted.
            ready = [self._pool.submit(worker_ready) for _ in range(self.workers)]
            if self.limit is not None:
                # The time limit is for the device, not the pool: wait before any clock starts.
                for started in ready:
                    started.result()
            return
        if self.kind == "dask":
            check_dask_installed()
            scheduler = self.pipeline.config.dask_scheduler
            self._context = dask_executor(self.workers, scheduler, self._blob)
            if scheduler:
                self._pool = self._context.__enter__()  # a bad address fails the run at once
            else:
                # A LocalCluster takes a second or more to start (scheduler, worker
                # processes): the first batches' Stage 1 runs meanwhile, as it does
                # while a process pool's workers spawn.
                self._starting = in_background(self._context.__enter__, "meshinsights-dask-start")
            return
        self._context = None
        self._pool = thread_executor(self.workers)

    def _executor(self) -> Executor:
        """The pool, opened again after a restart, or waited for while it starts."""
        if self._pool is None and self._starting is None:
            self._open()
        self._await_start()
        assert self._pool is not None
        return self._pool

    def _await_start(self) -> None:
        """The pool of a background start, or its error (then there is nothing to close)."""
        starting, self._starting = self._starting, None
        if starting is None:
            return
        try:
            self._pool = starting.result()
        except BaseException:
            self._context = None
            raise

    def _close(self, *, kill: bool = False) -> None:
        with suppress(Exception):  # a cluster that never started is the run's error, not here
            self._await_start()
        if kill and isinstance(self._pool, ProcessPoolExecutor):
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()  # a runaway device: no other way to stop its worker
        if self._context is not None:
            self._context.__exit__(None, None, None)
        elif self._pool is not None:
            # Wait for the threads unless one is stuck past the time limit.
            self._pool.shutdown(wait=not self._abandoned, cancel_futures=True)
        self._pool = self._context = None

    def submit(self, device: DeviceUnit, io_batch: IOBatch | None) -> Any:
        """Stage 2 of ``device`` on the executor; both stages when ``io_batch`` is None."""
        if self.inline:
            return None
        pool = self._executor()
        if self.kind == "threads":
            assert io_batch is not None, "fetch_in_workers needs the processes or dask executor"
            return pool.submit(self.pipeline.process_device, device, io_batch)
        check_device_picklable(device, self.kind)
        if io_batch is None:
            if self.kind == "processes":
                return pool.submit(run_in_worker, device)
            return pool.submit(run_in_dask_worker, self._blob, device)
        payload = io_batch.for_device(device.device_id)
        self.data_sent_bytes += datasets_nbytes(payload.device_data[device.device_id])
        if self.kind == "processes":
            return pool.submit(process_in_worker, device, payload)
        return pool.submit(process_in_dask_worker, self._blob, device, payload)

    def take_data_sent(self) -> int:
        """Bytes of normalized data sent since the last call (a batch's, for its results)."""
        sent, self.data_sent_bytes = self.data_sent_bytes, 0
        return sent

    def submit_both_stages(self, devices: Sequence[DeviceUnit]) -> list[Any]:
        """Both stages of each device in the workers (``fetch_in_workers``): one handle per device.

        Without a time limit the devices go to the workers in groups, one task
        per worker, and each worker fetches its group with one batched query
        (when ``batch_fetch`` and the sources allow): a query per device costs
        more than its share of one per group, and every task a hand-off. A
        group that fails as a whole is retried device by device (see
        ``outcome``). With a time limit, each device is a task of its own, so
        that the limit is the device's.
        """
        if self.limit is not None or len(devices) < 2:
            return [self.submit(device, None) for device in devices]
        pool = self._executor()
        for device in devices:
            check_device_picklable(device, self.kind)
        handles: list[Any] = []
        start = 0
        for size in group_sizes(len(devices), self.workers):
            group = list(devices[start:start + size])
            start += size
            future = (pool.submit(run_group_in_worker, group) if self.kind == "processes"
                      else pool.submit(run_group_in_dask_worker, self._blob, group))
            handles.extend(GroupShare(future, position) for position in range(size))
        return handles

    def result(self, device: DeviceUnit, io_batch: IOBatch, future: Any) -> PipelineDataObject:
        """The device's data object; failures of the executor become the device's error."""
        if future is None:
            return self.pipeline.process_device(device, io_batch)
        data_object: PipelineDataObject = self._wait(device, io_batch, future)
        return data_object

    def outcome(self, device: DeviceUnit, future: Any) -> DeviceOutcome:
        """Both stages' outcome of a ``submit(device, None)`` or ``submit_both_stages`` handle.

        An executor failure is the device's.
        """
        from meshinsights.pipeline import DeviceIO, DeviceOutcome

        value = self._wait(device, None, future)
        if isinstance(value, PipelineDataObject):  # the executor failed the device
            now = time.perf_counter() - self.pipeline._t0
            return DeviceOutcome(value, DeviceIO(device.device_id, start=now, end=now), now, now)
        outcome: DeviceOutcome = value
        return outcome

    def _wait(self, device: DeviceUnit, io_batch: IOBatch | None, future: Any) -> Any:
        """The task's value, or the device's failed data object when the executor failed it."""
        from concurrent.futures import TimeoutError as FutureTimeout
        from concurrent.futures.process import BrokenProcessPool

        try:
            return future.result(timeout=self.limit)
        except FutureTimeout:
            future.cancel()
            self._abandoned = self.kind == "threads"
            stopped = self.kind == "processes"
            if stopped:
                self.restarts += 1
                self._close(kill=True)  # the other devices it held are retried below
            how = "its worker was stopped" if stopped else (
                "it could not be stopped on the threads executor; use executor = \"processes\""
                if self.kind == "threads" else "its task was cancelled"
            )
            return self._failed(device, f"exceeded the {self._limit_name} of {self.limit:g} s; {how}")
        except BrokenProcessPool:
            return self._retry_alone(device, io_batch)
        except Exception as exc:  # noqa: BLE001 - e.g. a Dask worker killed too often
            if isinstance(future, GroupShare):
                return self._retry_outside_group(device, exc)
            return self._failed(device, f"{self.kind} executor: {type(exc).__name__}: {exc}")

    def _retry_outside_group(self, device: DeviceUnit, exc: Exception) -> Any:
        """The group's task failed as a whole: this device, alone, may well succeed."""
        logger.warning("a task of several devices failed (%s: %s); retrying device %s alone",
                       type(exc).__name__, exc, device.device_id)
        try:
            alone = self.submit(device, None)
        except Exception as again:  # noqa: BLE001 - e.g. the cluster is gone
            return self._failed(device, f"{self.kind} executor: {type(again).__name__}: {again}")
        return self._wait(device, None, alone)

    def _retry_alone(self, device: DeviceUnit, io_batch: IOBatch | None) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        self.restarts += 1
        self._close()
        logger.warning("a Stage 2 worker process died; retrying device %s once", device.device_id)
        try:
            return self.submit(device, io_batch).result(timeout=self.limit)
        except BrokenProcessPool:
            self._close()
            return self._failed(device, "its worker process died twice (retried once)")
        except Exception as exc:  # noqa: BLE001
            self._close()
            return self._failed(device, f"{self.kind} executor on retry: {type(exc).__name__}: {exc}")

    def _failed(self, device: DeviceUnit, cause: str) -> PipelineDataObject:
        data_object = self.pipeline.new_data_object_safely(device)
        message = f"device {device.device_id!r}: cpu stage, executor: {cause}"
        data_object.add_error(message, stage="cpu", component="executor")
        data_object.timings["cpu_total"] = self.limit or 0.0
        logger.error("%s", message)
        return data_object

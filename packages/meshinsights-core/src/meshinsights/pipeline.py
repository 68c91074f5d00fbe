"""Pipeline: Stage 1 (fetch + normalize, I/O) and Stage 2 (processors, CPU) per device.

``run_batch`` runs the batches one after the other. ``run_producer_consumer``
overlaps them: while Stage 2 works on batch k, the I/O workers already fetch
batches k+1 .. k+queue_size, so neither stage waits for the other and the I/O
workers never idle at a batch boundary. Every device is isolated: whatever
one device's source, normalizer or processor raises is recorded on that
device's data object and the others go on (unless ``stop_on_error``).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, wait
from contextlib import closing, contextmanager
from typing import Any

import attrs

from meshinsights.connectors import PluginManager
from meshinsights.data_object import PipelineDataObject
from meshinsights.data_source import DataSource
from meshinsights.device import DeviceUnit
from meshinsights.errors import ProcessorError
from meshinsights.executors import Stage2Runner, pipeline_blob
from meshinsights.io_pool import DaemonThreadPool
from meshinsights.logs import device_context
from meshinsights.messages import Message
from meshinsights.normalizer import DataNormalizer
from meshinsights.pipeline_config import PipelineConfig
from meshinsights.processor import Processor
from meshinsights.redaction import config_hash
from meshinsights.results import BatchResults, IOBatch, ResultsAdapter, StageSpan

logger = logging.getLogger(__name__)

DataSourceFactory = Callable[[DeviceUnit], Mapping[str, DataSource]]
NormalizerFactory = Callable[[DeviceUnit], Mapping[str, DataNormalizer]]
ProcessorFactory = Callable[[DeviceUnit], Sequence[Processor]]
DataObjectFactory = Callable[[str, str, Mapping[str, Any]], PipelineDataObject]


@attrs.define
class DeviceIO:
    """Stage 1's outcome for one device."""

    device_id: str
    datasets: dict[str, Any] = attrs.field(factory=dict)
    sources: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    normalization: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    errors: list[Message] = attrs.field(factory=list)
    warnings: list[Message] = attrs.field(factory=list)
    start: float = 0.0
    end: float = 0.0
    batch_start: float = float("inf")  # when a batched query holding its data began


@attrs.define
class Prefetched:
    """A device's sources and normalizers, and the raw frames a batched query already got."""

    sources: Mapping[str, DataSource]
    normalizers: Mapping[str, DataNormalizer]
    raw: dict[str, Any] = attrs.field(factory=dict)
    batch_seconds: float = 0.0
    batch_started: float = float("inf")  # when its first batched query began (run clock)


@attrs.define
class DeviceOutcome:
    """What a worker sends back after both stages of one device (``fetch_in_workers``).

    Stage 1's outcome without its datasets (they stay in the worker) and the
    span of Stage 2, both on the run's clock.
    """

    data_object: PipelineDataObject
    fetched: DeviceIO
    cpu_start: float
    cpu_end: float


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _chunks(devices: Sequence[DeviceUnit], size: int) -> list[Sequence[DeviceUnit]]:
    return [devices[i : i + size] for i in range(0, len(devices), size)]


def _check_unique(devices: Sequence[DeviceUnit]) -> None:
    seen: set[str] = set()
    for device in devices:
        if not isinstance(device, DeviceUnit):
            raise TypeError(f"devices must be DeviceUnit objects, got {type(device).__name__}")
        if device.device_id in seen:
            raise ValueError(f"device id {device.device_id!r} appears more than once in the run")
        seen.add(device.device_id)


@contextmanager
def _switch_interval(seconds: float | None) -> Iterator[None]:
    if seconds is None:
        yield
        return
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class _FetchJob:
    """Stage 1 of one batch: the I/O workers pull its devices until none is left.

    One task per worker rather than one future per device: a device costs no
    hand-off of its own, and the consumer wakes once per worker, not once per
    device. A worker that empties this batch goes straight on to the next
    batch's tasks, so batch boundaries never idle the I/O threads.
    """

    __slots__ = (
        "_fetch", "_pool", "_ready", "_todo", "cancelled", "devices", "futures", "index",
        "prefetched", "results", "started",
    )

    def __init__(self, index: int, devices: Sequence[DeviceUnit]) -> None:
        self.index = index
        self.devices = devices
        self.results: list[DeviceIO | None] = [None] * len(devices)
        self.futures: list[Future[None]] = []
        self.cancelled = False
        self.prefetched: dict[str, Prefetched] = {}
        self.started: dict[int, float] = {}
        self._ready: threading.Event | None = None
        self._todo: deque[tuple[int, DeviceUnit]] = deque(enumerate(devices))
        self._pool: Executor | None = None
        self._fetch: Callable[[DeviceUnit, Prefetched | None], DeviceIO] | None = None

    def start(
        self,
        pool: Executor,
        workers: int,
        fetch: Callable[[DeviceUnit, Prefetched | None], DeviceIO],
        prefetch: Callable[[Sequence[DeviceUnit]], dict[str, Prefetched]] | None = None,
    ) -> _FetchJob:
        self._pool, self._fetch = pool, fetch
        if prefetch is not None and len(self.devices) > 1:
            # One batched query first (submitted before the drains, so it runs first).
            self._ready = threading.Event()
            self.futures.append(pool.submit(self._prefetch, prefetch))
        for _ in range(min(workers, len(self.devices))):
            self.futures.append(pool.submit(self._drain, fetch))
        return self

    def _prefetch(self, prefetch: Callable[[Sequence[DeviceUnit]], dict[str, Prefetched]]) -> None:
        assert self._ready is not None
        try:
            if not self.cancelled:
                self.prefetched = prefetch(self.devices)
        finally:
            self._ready.set()

    def _drain(self, fetch: Callable[[DeviceUnit, Prefetched | None], DeviceIO]) -> None:
        if self._ready is not None:
            self._ready.wait()
        todo, results, prefetched, started = self._todo, self.results, self.prefetched, self.started
        while not self.cancelled:
            try:
                index, device = todo.popleft()  # atomic: workers never share a device
            except IndexError:
                return
            started[index] = time.perf_counter()
            outcome = fetch(device, prefetched.get(device.device_id))
            if started.pop(index, None) is not None:  # not abandoned meanwhile
                results[index] = outcome

    def cancel(self) -> None:
        """Start no further device of this batch (a fetch under way finishes)."""
        self.cancelled = True
        for future in self.futures:
            future.cancel()

    def wait(
        self, io_timeout: float | None = None, abandon: Callable[[DeviceUnit], DeviceIO] | None = None
    ) -> list[DeviceIO]:
        """Every device's outcome; past ``io_timeout`` a device is abandoned as failed."""
        if io_timeout is None or abandon is None:
            wait(self.futures)
        else:
            poll = min(0.05, io_timeout / 4)
            while True:
                _, pending = wait(self.futures, timeout=poll)
                if not pending:
                    break
                now = time.perf_counter()
                for index, began in list(self.started.items()):
                    if now - began > io_timeout and self.started.pop(index, None) is not None:
                        self.results[index] = abandon(self.devices[index])
                        # Its thread is stuck: replace it, and keep draining this batch.
                        replace = getattr(self._pool, "replace_stuck_worker", None)
                        if replace is not None:
                            replace()
                        if self._pool is not None and self._fetch is not None and self._todo:
                            self.futures.append(self._pool.submit(self._drain, self._fetch))
                if all(r is not None for r in self.results) and not self._todo:
                    break
        for future in self.futures:
            if future.done():
                future.result()  # fetch_device never raises; this surfaces anything else
        return [r for r in self.results if r is not None]


@attrs.define
class _WorkerBatch:
    """A batch whose devices were sent to the workers for both stages."""

    index: int
    devices: Sequence[DeviceUnit]
    futures: list[Any]

    def cancel(self) -> None:
        for future in self.futures:
            future.cancel()


class Pipeline:
    """Two-stage batch pipeline assembled from per-device factories."""

    def __init__(
        self,
        data_source_factory: DataSourceFactory,
        normalizer_factory: NormalizerFactory,
        processor_factory: ProcessorFactory,
        data_object_factory: DataObjectFactory | None = None,
        results_adapter: ResultsAdapter | None = None,
        config: PipelineConfig | None = None,
    ) -> None:
        self.data_source_factory = data_source_factory
        self.normalizer_factory = normalizer_factory
        self.processor_factory = processor_factory
        self.data_object_factory = data_object_factory
        self.results_adapter = results_adapter
        self.config = config or PipelineConfig()
        self._t0 = time.perf_counter()
        self._wall_t0 = time.time()  # the same instant on the wall clock, for other machines
        self._run_id = ""

    # ------------------------------------------------------------------ Stage 1
    def fetch_device(self, device: DeviceUnit, prefetched: Prefetched | None = None) -> DeviceIO:
        """Fetch and normalize every dataset of one device; never raises."""
        device_id = device.device_id
        out = DeviceIO(device_id=device_id, start=time.perf_counter() - self._t0)
        with device_context(device_id):
            try:
                self._fetch_into(device, out, prefetched)
            except Exception as exc:  # noqa: BLE001 - anything left is this device's failure
                self._io_error(out, "stage 1", exc)
        out.end = time.perf_counter() - self._t0
        if prefetched is not None:
            out.start -= prefetched.batch_seconds  # its share of the batched query
            out.batch_start = prefetched.batch_started
        return out

    def _fetch_into(self, device: DeviceUnit, out: DeviceIO, prefetched: Prefetched | None) -> None:
        if prefetched is not None:
            sources, normalizers = prefetched.sources, prefetched.normalizers
        else:
            try:
                sources = self.data_source_factory(device)
            except Exception as exc:  # noqa: BLE001
                self._io_error(out, "data_source_factory", exc)
                return
            try:
                normalizers = self.normalizer_factory(device)
            except Exception as exc:  # noqa: BLE001
                self._io_error(out, "normalizer_factory", exc)
                return
        batched = prefetched.raw if prefetched is not None else {}
        for name, source in sources.items():
            try:
                if name in batched:
                    # Taken out of the plan: the batch holds no raw frame past its device's turn.
                    raw = batched.pop(name)
                    out.sources[name] = {**source.get_metadata(), "batched": True}
                else:
                    raw = source.fetch()
                    out.sources[name] = source.get_metadata()
            except Exception as exc:  # noqa: BLE001
                self._io_error(out, f"data source {name!r} ({type(source).__name__})", exc)
                return
            normalizer = normalizers.get(name)
            if normalizer is None:
                out.datasets[name] = raw
                out.normalization[name] = {"normalizer": None, "rows_in": len(raw)}
                continue
            metadata: dict[str, Any] = {}
            try:
                out.datasets[name] = normalizer.normalize(raw, metadata)
            except Exception as exc:  # noqa: BLE001
                self._io_error(out, f"normalizer {normalizer.name} of {name!r}", exc)
                return
            warnings = metadata.pop("warnings", None)
            if warnings:
                component = f"normalizer {normalizer.name} of {name!r}"
                out.warnings.extend(
                    Message(message=text, stage="io", component=component) for text in warnings
                )
            out.normalization[name] = metadata

    def prefetch_batch(self, devices: Sequence[DeviceUnit]) -> dict[str, Prefetched]:
        """One query per group of batchable sources (same class, dataset, connector, config).

        Each device gets its own rows (``split_batch``); a device absent from
        the result gets an empty frame, so its normalizer or processors judge
        it exactly as after a query of its own. When the batched query fails,
        nothing is prefetched and every device fetches alone, so an error stays
        the device's, never the batch's.
        """
        plans: dict[str, Prefetched] = {}
        groups: dict[tuple[Any, ...], list[tuple[str, DataSource]]] = {}
        for device in devices:
            try:
                with device_context(device.device_id):
                    sources = self.data_source_factory(device)
                    normalizers = self.normalizer_factory(device)
            except Exception:  # noqa: BLE001 - fetch_device reports it for the device
                continue
            plans[device.device_id] = Prefetched(sources, normalizers)
            for name, source in sources.items():
                if type(source).batches():
                    key = (name, type(source), source.plugin_name, config_hash(source.plugin_config))
                    groups.setdefault(key, []).append((device.device_id, source))
        for (name, source_cls, plugin, _), members in groups.items():
            if len(members) < 2:
                continue
            started = time.perf_counter()
            try:
                query = source_cls.build_batch([source for _, source in members])
                if query is None:
                    continue
                connector = members[0][1].plugin
                connector.connect()
                frame = connector.execute_query(*query)
                parts = source_cls.split_batches(frame, [source for _, source in members])
                if len(parts) != len(members):
                    raise ValueError(
                        f"{source_cls.__name__}.split_batches returned {len(parts)} frames "
                        f"for {len(members)} sources"
                    )
                split = {device_id: part for (device_id, _), part in zip(members, parts, strict=True)}
            except Exception as exc:  # noqa: BLE001 - fall back to one query per device
                logger.warning(
                    "batched fetch of %r from %s for %d devices failed (%s); fetching them one by one",
                    name, plugin, len(members), _cause(exc),
                )
                continue
            elapsed = time.perf_counter() - started
            logger.debug("batched fetch of %r from %s: %d devices in one query, %.3f s",
                         name, plugin, len(members), elapsed)
            share = elapsed / len(members)
            for device_id, frame_part in split.items():
                plan = plans[device_id]
                plan.raw[name] = frame_part
                plan.batch_seconds += share
                plan.batch_started = min(plan.batch_started, started - self._t0)
        return plans

    def _abandon(self, device: DeviceUnit) -> DeviceIO:
        """The outcome of a device whose fetch passed ``io_timeout``."""
        now = time.perf_counter() - self._t0
        out = DeviceIO(device_id=device.device_id, start=now - (self.config.io_timeout or 0.0), end=now)
        message = (
            f"device {device.device_id!r}: io stage, io_timeout: no answer within "
            f"{self.config.io_timeout:g} s; the fetch was abandoned"
        )
        out.errors.append(Message(message=message, stage="io", component="io_timeout"))
        logger.error("%s", message)
        return out

    def _io_error(self, out: DeviceIO, component: str, exc: BaseException) -> None:
        message = f"device {out.device_id!r}: io stage, {component}: {_cause(exc)}"
        out.errors.append(Message(message=message, stage="io", component=component))
        logger.error("%s", message, exc_info=logger.isEnabledFor(logging.DEBUG))

    def _collect_io(self, batch_index: int, fetched: Sequence[DeviceIO]) -> IOBatch:
        batch = IOBatch(batch_index=batch_index)
        for item in fetched:
            batch.device_data[item.device_id] = item.datasets
            batch.device_metadata[item.device_id] = {
                "sources": item.sources, "normalization": item.normalization,
            }
            if item.errors:
                batch.errors[item.device_id] = item.errors
            if item.warnings:
                batch.warnings[item.device_id] = item.warnings
            batch.timing.per_device[item.device_id] = item.end - item.start
        if fetched:
            batch.timing.per_batch.append(
                # The batch's span begins with its batched query, when there was one.
                StageSpan(batch_index, min(min(i.start, i.batch_start) for i in fetched),
                          max(i.end for i in fetched), len(fetched))
            )
        return batch

    def stage1_io_operations(
        self, devices: Sequence[DeviceUnit], batch_index: int = 0
    ) -> IOBatch:
        """Fetch and normalize a batch of devices with ``io_max_workers`` threads."""
        with self._io_executor() as pool:
            job = _FetchJob(batch_index, devices).start(
                pool, self.config.io_max_workers, self.fetch_device, self._prefetcher()
            )
            return self._collect_io(batch_index, job.wait(self.config.io_timeout, self._abandon))

    # ------------------------------------------------------------------ Stage 2
    def _new_data_object(self, device: DeviceUnit) -> PipelineDataObject:
        if self.data_object_factory is None:
            data_object = PipelineDataObject(
                pipeline_name=self.config.pipeline_name,
                config={"device_id": device.device_id, **device.metadata},
            )
        else:
            data_object = self.data_object_factory(
                device.device_id, self.config.pipeline_name, dict(device.metadata)
            )
        data_object.config.setdefault("device_id", device.device_id)
        return data_object

    def new_data_object_safely(self, device: DeviceUnit) -> PipelineDataObject:
        """The device's data object, or a plain one when the factory itself fails."""
        try:
            return self._new_data_object(device)
        except Exception:  # noqa: BLE001 - the caller records the device's failure
            return PipelineDataObject(self.config.pipeline_name, {"device_id": device.device_id})

    def process_device(self, device: DeviceUnit, io_batch: IOBatch) -> PipelineDataObject:
        """Build the device's data object and run its processor chain; never raises."""
        device_id = device.device_id
        started = time.perf_counter()
        with device_context(device_id):
            try:
                data_object = self._new_data_object(device)
            except Exception as exc:  # noqa: BLE001
                data_object = PipelineDataObject(self.config.pipeline_name, {"device_id": device_id})
                self._cpu_error(data_object, "data_object_factory", exc)
                data_object.timings["cpu_total"] = time.perf_counter() - started
                return data_object
            metadata = io_batch.device_metadata.get(device_id, {})
            data_object.data_sources.update(metadata.get("sources", {}))
            data_object.normalization_metadata.update(metadata.get("normalization", {}))
            data_object.errors.extend(io_batch.errors.get(device_id, ()))
            data_object.warnings.extend(io_batch.warnings.get(device_id, ()))
            data_object.load_normalized_data(
                io_batch.device_data.get(device_id, {}),
                freeze=self.config.freeze_normalized_data,
            )
            if not data_object.errors:
                self._run_chain(device, data_object)
            if not self.config.retain_normalized_data:
                data_object.release_normalized_data()
        data_object.timings["cpu_total"] = time.perf_counter() - started
        return data_object

    def run_device(self, device: DeviceUnit, prefetched: Prefetched | None = None) -> DeviceOutcome:
        """Both stages of one device in a worker; only the results go back (``fetch_in_workers``)."""
        # The run's clock started in the process that began the run: map this one onto it
        # (zero on the same machine; the wall clocks' agreement on another).
        shift = (time.time() - self._wall_t0) - (time.perf_counter() - self._t0)
        fetched = self.fetch_device(device, prefetched)
        cpu_start = time.perf_counter() - self._t0
        data_object = self.process_device(device, self._collect_io(0, [fetched]))
        cpu_end = time.perf_counter() - self._t0
        fetched.datasets = {}
        fetched.start += shift
        fetched.end += shift
        fetched.batch_start += shift  # inf stays inf: no batched query
        return DeviceOutcome(data_object, fetched, cpu_start + shift, cpu_end + shift)

    def run_devices(self, devices: Sequence[DeviceUnit]) -> list[DeviceOutcome]:
        """Both stages of a group of devices in one worker task (``fetch_in_workers``).

        With ``batch_fetch`` the group's batchable sources are fetched by one
        query, as Stage 1 does for a batch; each device is then normalized and
        processed on its own, so its errors stay its own.
        """
        prefetch = self._prefetcher()
        plans = prefetch(devices) if prefetch is not None and len(devices) > 1 else {}
        return [self.run_device(device, plans.pop(device.device_id, None)) for device in devices]

    def _run_chain(self, device: DeviceUnit, data_object: PipelineDataObject) -> None:
        try:
            processors = self.processor_factory(device)
        except Exception as exc:  # noqa: BLE001
            self._cpu_error(data_object, "processor_factory", exc)
            return
        for processor in processors:
            try:
                processor(data_object)
            except ProcessorError:
                return  # recorded by the processor itself
            except Exception as exc:  # noqa: BLE001 - a callable that is not a Processor
                name = getattr(processor, "name", type(processor).__name__)
                self._cpu_error(data_object, f"processor {name}", exc)
                return

    def _cpu_error(self, data_object: PipelineDataObject, component: str, exc: BaseException) -> None:
        message = f"device {data_object.device_id!r}: cpu stage, {component}: {_cause(exc)}"
        data_object.add_error(message, stage="cpu", component=component)
        logger.error("%s", message, exc_info=logger.isEnabledFor(logging.DEBUG))

    def stage2_cpu_operations(
        self, io_batch: IOBatch, devices: Sequence[DeviceUnit]
    ) -> BatchResults:
        """Run every device's processors on the configured executor."""
        with Stage2Runner(self) as runner:
            return self._stage2(io_batch, devices, runner)

    def _stage2(
        self, io_batch: IOBatch, devices: Sequence[DeviceUnit], runner: Stage2Runner
    ) -> BatchResults:
        """Stage 2 of one batch; an inline runner processes the devices in the consumer, in order."""
        start = time.perf_counter() - self._t0
        if runner.inline:
            results = self._consume(
                io_batch.batch_index, devices, lambda _, device: self.process_device(device, io_batch)
            )
        else:
            futures: list[Any] = []

            def collect(position: int, device: DeviceUnit) -> PipelineDataObject:
                if not futures:  # submitted after on_batch_start, all at once
                    futures.extend(runner.submit(d, io_batch) for d in devices)
                return runner.result(device, io_batch, futures[position])

            results = self._consume(
                io_batch.batch_index, devices, collect, lambda position: futures[position].cancel()
            )
            results.data_sent_bytes = runner.take_data_sent()
        results.io_timing.extend(io_batch.timing)
        results.cpu_timing.per_batch.append(
            StageSpan(io_batch.batch_index, start, time.perf_counter() - self._t0, len(devices))
        )
        self._hook().on_batch_end(batch_index=io_batch.batch_index, results=results, run_id=self._run_id)
        return results

    def _collect_from_workers(
        self, batch_index: int, devices: Sequence[DeviceUnit], futures: Sequence[Any],
        runner: Stage2Runner,
    ) -> BatchResults:
        """One batch whose devices ran both stages in the workers (``fetch_in_workers``)."""
        outcomes: list[DeviceOutcome] = []

        def collect(position: int, device: DeviceUnit) -> PipelineDataObject:
            outcome = runner.outcome(device, futures[position])
            outcomes.append(outcome)
            return outcome.data_object

        results = self._consume(
            batch_index, devices, collect, lambda position: futures[position].cancel()
        )
        results.io_timing.extend(self._collect_io(batch_index, [o.fetched for o in outcomes]).timing)
        if outcomes:
            results.cpu_timing.per_batch.append(StageSpan(
                batch_index, min(o.cpu_start for o in outcomes), max(o.cpu_end for o in outcomes),
                len(outcomes),
            ))
        self._hook().on_batch_end(batch_index=batch_index, results=results, run_id=self._run_id)
        return results

    def _consume(
        self,
        batch_index: int,
        devices: Sequence[DeviceUnit],
        collect: Callable[[int, DeviceUnit], PipelineDataObject],
        cancel: Callable[[int], object] | None = None,
    ) -> BatchResults:
        """Each device's data object in order, with the per-device hooks and ``stop_on_error``."""
        results = BatchResults(run_id=self._run_id, results_adapter=self.results_adapter)
        hook = self._hook()
        hook.on_batch_start(batch_index=batch_index, devices=devices, run_id=self._run_id)
        # A hook with no implementation is not called per device (it costs ~2 us each).
        device_end = hook.on_device_end if hook.on_device_end.get_hookimpls() else None
        per_device = results.cpu_timing.per_device
        stop = False
        for position, device in enumerate(devices):
            device_id = device.device_id
            if stop:
                if cancel is not None:
                    cancel(position)
                results.skipped_devices.append(device_id)
                continue
            data_object = collect(position, device)
            results.add_device(data_object, device_id)
            per_device[device_id] = data_object.timings["cpu_total"]
            if device_end is not None:
                device_end(device_id=device_id, data_object=data_object, run_id=self._run_id)
            if data_object.failed and self.config.stop_on_error:
                stop = results.stopped_early = True
        return results

    # ------------------------------------------------------------------ batches
    def process_batch(self, devices: Sequence[DeviceUnit], batch_index: int = 0) -> BatchResults:
        """Both stages for one batch, one after the other."""
        return self.stage2_cpu_operations(self.stage1_io_operations(devices, batch_index), devices)

    def run_batch(self, devices: Sequence[DeviceUnit]) -> BatchResults:
        """Process all devices in batches of ``batch_size``, with no overlap."""
        return self._run(devices, overlap=False)

    def run_producer_consumer(self, devices: Sequence[DeviceUnit]) -> BatchResults:
        """Process all devices with Stage 1 of later batches overlapping Stage 2."""
        return self._run(devices, overlap=True)

    def _run(self, devices: Sequence[DeviceUnit], *, overlap: bool) -> BatchResults:
        total = BatchResults(results_adapter=self.results_adapter)
        with closing(self.iter_batches(devices, overlap=overlap)) as batches:
            for batch in batches:
                total.merge(batch)
        total.run_id = self._run_id
        total.wall_time = time.perf_counter() - self._t0
        self._hook().on_run_end(results=total, run_id=self._run_id)
        return total

    def iter_batches(
        self, devices: Sequence[DeviceUnit], *, overlap: bool = True
    ) -> Generator[BatchResults, None, None]:
        """Yield each batch's results as soon as its Stage 2 is done.

        Holding no more than ``queue_size + 1`` batches at once, this is the
        way to run fleets of any size in bounded memory: write each batch out
        (a ledger, a file) and let it go.
        """
        devices = list(devices)
        _check_unique(devices)
        self._t0, self._wall_t0 = time.perf_counter(), time.time()
        self._run_id = uuid.uuid4().hex[:12]
        # Pickled once, before any work (failing names the culprit), with this run's clock.
        blob = pipeline_blob(self, self.config.executor) if self.config.executor != "threads" else None
        logging.getLogger("meshinsights").setLevel(self.config.log_level)
        batches = _chunks(devices, self.config.batch_size)
        ahead = self.config.queue_size if overlap else 0
        self._hook().on_run_start(config=self.config, devices=devices, run_id=self._run_id)
        logger.info(
            "run %s: %d devices in %d batches (%s, cpu workers %d, %s)",
            self._run_id, len(devices), len(batches),
            "fetching in the workers" if self.config.fetch_in_workers
            else f"io workers {self.config.io_max_workers}",
            self.config.cpu_max_workers, "overlapped" if overlap else "sequential",
        )
        pending: deque[_FetchJob | _WorkerBatch] = deque()
        try:
            if self.config.fetch_in_workers:
                yield from self._batches_in_workers(batches, ahead, pending, blob)
            else:
                yield from self._batches_here(batches, ahead, overlap, pending, blob)
        finally:
            for rest_job in pending:
                rest_job.cancel()
            if self.config.cleanup_connections:
                PluginManager.cleanup()

    def _batches_here(
        self, batches: Sequence[Sequence[DeviceUnit]], ahead: int, overlap: bool,
        pending: deque[_FetchJob | _WorkerBatch], blob: bytes | None,
    ) -> Generator[BatchResults, None, None]:
        """Stage 1 on this process's I/O threads, Stage 2 on the executor."""
        workers = self.config.io_max_workers
        prefetcher = self._prefetcher()
        with Stage2Runner(self, blob) as cpu_runner, self._io_executor() as io_pool, \
                _switch_interval(self.config.gil_switch_interval if overlap else None):
            next_batch = 0
            while next_batch < len(batches) or pending:
                # Keep the I/O workers fed `ahead` batches past the one in Stage 2.
                while next_batch < len(batches) and len(pending) <= ahead:
                    pending.append(
                        _FetchJob(next_batch, batches[next_batch])
                        .start(io_pool, workers, self.fetch_device, prefetcher)
                    )
                    next_batch += 1
                job = pending.popleft()
                assert isinstance(job, _FetchJob)
                waited = time.perf_counter()
                io_batch = self._collect_io(job.index, job.wait(self.config.io_timeout, self._abandon))
                waited = time.perf_counter() - waited
                results = self._stage2(io_batch, job.devices, cpu_runner)
                results.cpu_waited_for_io = waited
                yield self._skip_rest(results, job.index, pending, batches[next_batch:])
                if results.stopped_early:
                    return

    def _batches_in_workers(
        self, batches: Sequence[Sequence[DeviceUnit]], ahead: int,
        pending: deque[_FetchJob | _WorkerBatch], blob: bytes | None,
    ) -> Generator[BatchResults, None, None]:
        """Both stages of every device in the executor's workers (``fetch_in_workers``).

        ``ahead`` batches past the one being collected are already submitted,
        so no worker idles at a batch boundary; one worker's fetch overlaps
        another's processors.
        """
        with Stage2Runner(self, blob) as runner:
            next_batch = 0
            while next_batch < len(batches) or pending:
                while next_batch < len(batches) and len(pending) <= ahead:
                    devices = batches[next_batch]
                    pending.append(_WorkerBatch(next_batch, devices, runner.submit_both_stages(devices)))
                    next_batch += 1
                batch = pending.popleft()
                assert isinstance(batch, _WorkerBatch)
                results = self._collect_from_workers(batch.index, batch.devices, batch.futures, runner)
                yield self._skip_rest(results, batch.index, pending, batches[next_batch:])
                if results.stopped_early:
                    return

    def _skip_rest(
        self, results: BatchResults, index: int, pending: deque[_FetchJob | _WorkerBatch],
        rest: Sequence[Sequence[DeviceUnit]],
    ) -> BatchResults:
        """After a ``stop_on_error`` stop: cancel what is queued and list every device skipped."""
        if not results.stopped_early:
            return results
        for job in pending:
            job.cancel()
        results.skipped_devices.extend(d.device_id for job in pending for d in job.devices)
        results.skipped_devices.extend(d.device_id for devices in rest for d in devices)
        pending.clear()
        logger.warning(
            "run %s stopped on error after batch %d (%d devices skipped)",
            self._run_id, index, len(results.skipped_devices),
        )
        return results

    # ------------------------------------------------------------------ helpers
    def _io_executor(self) -> Executor:
        # Even one I/O worker is a thread: it is what overlaps with Stage 2.
        return DaemonThreadPool(self.config.io_max_workers, "meshinsights-io")

    def _prefetcher(self) -> Callable[[Sequence[DeviceUnit]], dict[str, Prefetched]] | None:
        return self.prefetch_batch if self.config.batch_fetch else None

    def _hook(self) -> Any:
        from meshinsights.plugins import get_host

        return get_host().hook

    # ------------------------------------------------------------------ solutions
    @classmethod
    def from_solution(
        cls,
        name: str,
        config: PipelineConfig | None = None,
        *,
        extra_processors: Sequence[str] = (),
    ) -> Pipeline:
        """Assemble a pipeline from an installed solution, appending registered processors."""
        from meshinsights.solution import ExtendedProcessorFactory, find_processors, find_solution

        solution = find_solution(name)
        processor_factory: ProcessorFactory = solution.processor_factory
        if extra_processors:
            processor_factory = ExtendedProcessorFactory(
                solution.processor_factory, find_processors(extra_processors)
            )
        adapter = solution.results_adapter_factory() if solution.results_adapter_factory else None
        return cls(
            data_source_factory=solution.data_source_factory,
            normalizer_factory=solution.normalizer_factory,
            processor_factory=processor_factory,
            data_object_factory=solution.data_object_factory,
            results_adapter=adapter,
            config=config or PipelineConfig(pipeline_name=name),
        )

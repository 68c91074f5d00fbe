"""Producer-consumer overlap, read from the recorded Stage 1 / Stage 2 spans of each batch.

No wall-clock thresholds: the assertions compare the start and end times the
runner recorded for each stage of each batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from meshinsights import BatchResults, Pipeline, PipelineDataObject, Processor
from meshinsights.results import StageSpan

Factory = Callable[..., Any]


def overlap_seconds(a: list[StageSpan], b: list[StageSpan]) -> float:
    """Total time during which a span of ``a`` and a span of ``b`` both ran."""
    return sum(max(0.0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)


def spans(results: BatchResults) -> tuple[list[StageSpan], list[StageSpan]]:
    io = sorted(results.io_timing.per_batch, key=lambda s: s.batch_index)
    cpu = sorted(results.cpu_timing.per_batch, key=lambda s: s.batch_index)
    assert [s.batch_index for s in io] == [s.batch_index for s in cpu] == list(range(len(io)))
    return io, cpu


def test_stage1_of_the_next_batch_runs_while_stage2_of_this_one_does(fleet_factory: Factory) -> None:
    fleet = fleet_factory(12, io_delay=0.02, cpu_seconds=0.02)
    pipeline = fleet.pipeline(batch_size=3, io_max_workers=2, cpu_max_workers=1)
    io, cpu = spans(pipeline.run_producer_consumer(fleet.devices))

    for k in range(len(io) - 1):
        assert io[k].end <= cpu[k].start  # a batch is processed after it was fetched...
        assert io[k + 1].start < cpu[k].end  # ...while the next one is already being fetched
    assert overlap_seconds(io, cpu) > 0


def test_run_batch_does_not_overlap_the_stages(fleet_factory: Factory) -> None:
    fleet = fleet_factory(12, io_delay=0.02, cpu_seconds=0.02)
    pipeline = fleet.pipeline(batch_size=3, io_max_workers=2, cpu_max_workers=1)
    io, cpu = spans(pipeline.run_batch(fleet.devices))

    for k in range(len(io) - 1):
        assert io[k].end <= cpu[k].start
        assert io[k + 1].start >= cpu[k].end
    assert overlap_seconds(io, cpu) == 0


def test_io_workers_do_not_wait_at_batch_boundaries(fleet_factory: Factory) -> None:
    # I/O bound: 3 devices per batch on 2 workers, so one worker is free while the
    # other fetches a batch's last device; it must already be on the next batch.
    # With 30 ms per device the schedule alternates: at boundaries 0->1 and 2->3 one
    # worker starts the next batch 30 ms before the other ends this one; at 1->2 and
    # 3->4 both finish together and the next batch starts at that moment (a tie that
    # scheduling jitter decides). A runner that waited would start every batch at or
    # after the previous one's end.
    fleet = fleet_factory(15, io_delay=0.03)
    pipeline = fleet.pipeline(batch_size=3, io_max_workers=2, queue_size=2)
    io, _ = spans(pipeline.run_producer_consumer(fleet.devices))

    gaps = [io[k + 1].start - io[k].end for k in range(len(io) - 1)]
    assert all(gap < 0.01 for gap in gaps), gaps  # no boundary leaves a worker waiting
    assert sum(gap < -0.015 for gap in gaps) >= 2, gaps  # the free worker is already ahead


def test_queue_size_bounds_how_far_stage1_runs_ahead(fleet_factory: Factory) -> None:
    # CPU bound: Stage 1 could run far ahead, but never beyond queue_size batches
    # past the one in Stage 2.
    fleet = fleet_factory(16, cpu_seconds=0.01)
    pipeline = fleet.pipeline(batch_size=2, io_max_workers=2, queue_size=1)
    io, cpu = spans(pipeline.run_producer_consumer(fleet.devices))

    for k in range(2, len(io)):
        # Batch k is handed to the I/O workers only once batch k-2 left Stage 2.
        assert io[k].start >= cpu[k - 2].end


class ThreadRecorder(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        data_object.set_artifact("thread", threading.current_thread().name)
        return data_object


def test_one_cpu_worker_runs_stage2_inline_in_the_consumer(fleet_factory: Factory) -> None:
    fleet = fleet_factory(4)
    for cpu_workers, expected in ((1, {threading.current_thread().name}), (2, None)):
        pipeline = Pipeline(
            fleet.sources, fleet.normalizers, lambda device: [ThreadRecorder()],
            config=fleet.pipeline(cpu_max_workers=cpu_workers, io_max_workers=2).config,
        )
        names = {
            d.get_artifact("thread")
            for d in pipeline.run_producer_consumer(fleet.devices).device_results.values()
        }
        if expected is not None:
            assert names == expected
        else:
            assert all(n.startswith("meshinsights-cpu") for n in names)

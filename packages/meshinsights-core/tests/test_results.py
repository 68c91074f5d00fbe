"""BatchResults merging and summaries, StageTiming totals, and the generic ResultsAdapter."""

from __future__ import annotations

from meshinsights import BatchResults, PipelineDataObject, ResultsAdapter, StageSpan, StageTiming


def device(device_id: str, error: str | None = None) -> PipelineDataObject:
    dobj = PipelineDataObject("p", {"device_id": device_id}).set_artifact("a/x", 1)
    return dobj.add_error(error) if error else dobj


def batch(index: int, *objects: PipelineDataObject) -> BatchResults:
    results = BatchResults()
    for dobj in objects:
        assert dobj.device_id is not None
        results.add_device(dobj, dobj.device_id)
        results.io_timing.per_device[dobj.device_id] = 0.5
        results.cpu_timing.per_device[dobj.device_id] = 0.25
    results.io_timing.per_batch.append(StageSpan(index, index * 1.0, index + 0.5, len(objects)))
    results.cpu_timing.per_batch.append(StageSpan(index, index + 0.5, index + 1.0, len(objects)))
    return results


def test_merge_folds_batches_into_run_results() -> None:
    total = BatchResults(run_id="r1")
    total.merge(batch(0, device("a"), device("b", "device 'b': io stage, x: boom")))
    total.merge(batch(1, device("c")))
    assert total.successful_devices == ["a", "c"] and total.failed_devices == ["b"]
    assert total.n_devices == 3
    assert [s.batch_index for s in total.io_timing.per_batch] == [0, 1]
    assert total.io_timing.total == 1.5 and total.cpu_timing.total == 0.75
    assert total.cpu_timing.per_batch[1].seconds == 0.5
    assert total.summary() == {
        "run_id": "r1", "devices": 3, "successful": 2, "failed": 1, "skipped": 0,
        "stopped_early": False, "wall_time_s": 0.0, "io_busy_s": 1.5, "cpu_busy_s": 0.75,
    }


def test_generic_adapter_table() -> None:
    results = batch(0, device("a"), device("b", "device 'b': cpu stage, P: boom"))
    frame = results.to_dataframe()
    assert list(frame.columns) == list(ResultsAdapter.columns)
    assert frame["status"].tolist() == ["ok", "failed"]
    assert frame["first_error"].tolist()[1] == "device 'b': cpu stage, P: boom"
    assert frame["n_artifacts"].tolist() == [1, 1]
    assert frame["io_seconds"].tolist() == [0.5, 0.5]


def test_stage_timing_extend() -> None:
    first, second = StageTiming({"a": 1.0}), StageTiming({"b": 2.0}, [StageSpan(3, 0.0, 1.0, 1)])
    first.extend(second)
    assert first.per_device == {"a": 1.0, "b": 2.0} and first.per_batch[0].batch_index == 3

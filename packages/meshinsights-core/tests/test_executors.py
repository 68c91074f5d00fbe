"""Stage 2 on threads, processes and Dask: same results, fail-fast pickling, crashes, limits."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from meshinsights import DeviceUnit, Pipeline, PipelineConfig, PluginManager
from meshinsights.errors import ConfigError
from meshinsights.testing import isolated_host
from meshinsights.testing.faults import (
    SyntheticConnector,
    batching_connector_sources,
    connector_sources,
    faulty_processors,
    no_normalizers,
    synthetic_sources,
)


def _pipeline(**config: object) -> Pipeline:
    return Pipeline(
        synthetic_sources, no_normalizers, faulty_processors,  # type: ignore[arg-type]
        config=PipelineConfig(batch_size=3, io_max_workers=2, **config),  # type: ignore[arg-type]
    )


def _table(results) -> pd.DataFrame:
    rows = []
    for device_id, data_object in sorted(results.device_results.items()):
        rows.append({
            "device_id": device_id, "status": data_object.status,
            "mean": data_object.get_artifact("values/mean"),
            "errors": ";".join(m.message for m in data_object.errors),
        })
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _host():
    with isolated_host():
        yield


DEVICES = [DeviceUnit(f"d{i:02d}", {"rows": 50 + i}) for i in range(8)]


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_results_are_identical_across_executors(executor: str) -> None:
    expected = _table(_pipeline(executor="threads", cpu_max_workers=2).run_producer_consumer(DEVICES))
    results = _pipeline(executor=executor, cpu_max_workers=2).run_producer_consumer(DEVICES)
    pd.testing.assert_frame_equal(_table(results), expected)
    pids = {d.get_artifact("values/pid") for d in results.device_results.values()}
    assert os.getpid() not in pids, "Stage 2 must have run in other processes"
    table = results.device_results["d00"].get_artifact("values/table")
    assert isinstance(table, pd.DataFrame) and table.loc["count", "value"] == 50
    # Each device's normalized data went to a worker: its float64 values, 8 bytes a row.
    assert results.data_sent_bytes == sum(8 * d.parameters["rows"] for d in DEVICES)


def test_data_sent_counts_every_column_even_under_a_repeated_name() -> None:
    from meshinsights.executors import datasets_nbytes

    frame = pd.DataFrame([[1.0, 2.0, 3.0]] * 4, columns=["a", "a", "b"])
    assert datasets_nbytes({"values": frame, "note": "not a frame"}) == 3 * 4 * 8


def test_no_data_is_counted_as_sent_when_none_leaves_the_process() -> None:
    on_threads = _pipeline(executor="threads", cpu_max_workers=2).run_producer_consumer(DEVICES)
    fetching = _pipeline(
        executor="processes", cpu_max_workers=2, fetch_in_workers=True
    ).run_producer_consumer(DEVICES)
    assert on_threads.data_sent_bytes == fetching.data_sent_bytes == 0


def test_unpicklable_factory_fails_before_any_work_naming_it() -> None:
    fetched: list[str] = []

    def sources(device: DeviceUnit):  # a closure: cannot cross processes
        fetched.append(device.device_id)
        return synthetic_sources(device)

    pipeline = Pipeline(
        sources, no_normalizers, faulty_processors,  # type: ignore[arg-type]
        config=PipelineConfig(executor="processes", cpu_max_workers=2),
    )
    with pytest.raises(ConfigError, match=r"data_source_factory .*cannot be pickled.*module-level"):
        pipeline.run_producer_consumer(DEVICES)
    assert fetched == []


def test_a_dying_worker_fails_only_its_device_after_one_retry() -> None:
    devices = [*DEVICES[:4], DeviceUnit("crash", {"fault": "exit"}), *DEVICES[4:]]
    results = _pipeline(executor="processes", cpu_max_workers=2).run_producer_consumer(devices)
    assert results.failed_devices == ["crash"]
    error = results.device_results["crash"].errors[0].message
    assert "worker process died twice (retried once)" in error
    assert sorted(results.successful_devices) == sorted(d.device_id for d in DEVICES)


@pytest.mark.parametrize("executor", ["processes", "threads"])
def test_cpu_time_limit_reports_and_on_processes_stops(executor: str) -> None:
    # A worker process is stopped, so its device may sleep long: a run that waited for it would
    # show; a thread cannot be stopped and keeps sleeping after the run, so it sleeps less.
    seconds = 60 if executor == "processes" else 8
    devices = [DeviceUnit("slow", {"fault": "sleep", "seconds": seconds}), *DEVICES[:5]]
    results = _pipeline(
        executor=executor, cpu_max_workers=2, cpu_time_limit=1.5
    ).run_producer_consumer(devices)
    assert results.failed_devices == ["slow"]
    error = results.device_results["slow"].errors[0].message
    assert "exceeded the CPU time limit of 1.5 s" in error
    assert ("worker was stopped" in error) == (executor == "processes")
    assert sorted(results.successful_devices) == sorted(d.device_id for d in DEVICES[:5])
    assert results.wall_time < seconds - 1, "the run must not wait for the runaway device"


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_fetch_in_workers_runs_both_stages_there_with_the_same_results(executor: str) -> None:
    devices = [*DEVICES, DeviceUnit("no-data", {"fault": "fetch"})]
    expected = _table(_pipeline(executor="threads", cpu_max_workers=2).run_producer_consumer(devices))
    results = _pipeline(
        executor=executor, cpu_max_workers=2, fetch_in_workers=True
    ).run_producer_consumer(devices)
    pd.testing.assert_frame_equal(_table(results), expected)
    # The failing fetch is that device's Stage 1 error, named as it is without workers.
    assert results.failed_devices == ["no-data"]
    (error,) = results.device_results["no-data"].errors
    assert error.stage == "io" and "ConnectionError: injected fetch failure" in error.message
    for device_id, data_object in results.device_results.items():
        if device_id == "no-data":
            continue
        fetched_by = data_object.data_sources["values"]["pid"]
        assert fetched_by not in (None, os.getpid()), "Stage 1 must have run in a worker"
        assert fetched_by == data_object.get_artifact("values/pid"), "both stages in one worker"
    # Stage 1's timing comes back on the run's clock: one span per batch, within the run.
    spans = results.io_timing.per_batch
    assert [s.batch_index for s in spans] == [0, 1, 2]
    assert all(0 <= s.start <= s.end <= results.wall_time for s in spans)
    assert set(results.io_timing.per_device) == {d.device_id for d in devices}
    assert all(0 <= s.start <= s.end <= results.wall_time for s in results.cpu_timing.per_batch)


def test_fetch_in_workers_needs_another_process() -> None:
    with pytest.raises(ValueError, match='fetch_in_workers needs executor = "processes" or "dask"'):
        PipelineConfig(fetch_in_workers=True)


def test_fetch_in_workers_a_dying_worker_fails_only_its_device() -> None:
    devices = [*DEVICES[:4], DeviceUnit("crash", {"fault": "exit"}), *DEVICES[4:]]
    results = _pipeline(
        executor="processes", cpu_max_workers=2, fetch_in_workers=True
    ).run_producer_consumer(devices)
    assert results.failed_devices == ["crash"]
    assert "worker process died twice (retried once)" in results.device_results["crash"].errors[0].message
    assert sorted(results.successful_devices) == sorted(d.device_id for d in DEVICES)


def test_fetch_in_workers_time_limit_covers_both_stages() -> None:
    devices = [DeviceUnit("slow", {"fault": "sleep", "seconds": 60}), *DEVICES[:5]]
    results = _pipeline(
        executor="processes", cpu_max_workers=2, fetch_in_workers=True, io_timeout=1.0,
        cpu_time_limit=0.5,
    ).run_producer_consumer(devices)
    assert results.failed_devices == ["slow"]
    error = results.device_results["slow"].errors[0].message
    assert "exceeded the time limit (io_timeout + cpu_time_limit) of 1.5 s" in error
    assert sorted(results.successful_devices) == sorted(d.device_id for d in DEVICES[:5])
    assert results.wall_time < 30


def test_fetch_in_workers_stop_on_error_skips_the_rest() -> None:
    devices = [*DEVICES[:2], DeviceUnit("bad", {"fault": "raise"}), *DEVICES[2:]]
    results = _pipeline(
        executor="processes", cpu_max_workers=2, fetch_in_workers=True, stop_on_error=True
    ).run_producer_consumer(devices)
    assert results.stopped_early
    assert results.failed_devices == ["bad"]
    assert sorted(results.successful_devices) == ["d00", "d01"]
    assert set(results.skipped_devices) == {d.device_id for d in DEVICES[2:]}


def test_fetch_in_workers_sends_connectors_registered_here_to_the_workers() -> None:
    devices = [DeviceUnit(f"c{i}", {"rows": 20 + i, "connector": "synthetic"}) for i in range(4)]
    PluginManager.register_plugin("synthetic", SyntheticConnector)
    try:
        results = Pipeline(
            connector_sources, no_normalizers, faulty_processors,  # type: ignore[arg-type]
            config=PipelineConfig(executor="processes", cpu_max_workers=2, fetch_in_workers=True),
        ).run_producer_consumer(devices)
    finally:
        PluginManager.unregister_plugin("synthetic")
    assert sorted(results.successful_devices) == [d.device_id for d in devices], [
        m.message for o in results.device_results.values() for m in o.errors
    ]
    for device in devices:
        data_object = results.device_results[device.device_id]
        assert data_object.data_sources["values"]["pid"] != os.getpid()
        assert data_object.get_artifact("values/table").loc["count", "value"] == device.parameters["rows"]


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_fetch_in_workers_fetches_each_workers_group_with_one_query(executor: str) -> None:
    devices = [DeviceUnit(f"g{i}", {"rows": 20 + i, "connector": "synthetic"}) for i in range(10)]
    PluginManager.register_plugin("synthetic", SyntheticConnector)
    try:
        one_by_one = Pipeline(
            connector_sources, no_normalizers, faulty_processors,  # type: ignore[arg-type]
            config=PipelineConfig(batch_size=5),
        ).run_producer_consumer(devices)
        results = Pipeline(
            batching_connector_sources, no_normalizers, faulty_processors,  # type: ignore[arg-type]
            config=PipelineConfig(executor=executor, cpu_max_workers=2, batch_size=5,
                                  fetch_in_workers=True),
        ).run_producer_consumer(devices)
    finally:
        PluginManager.unregister_plugin("synthetic")
    pd.testing.assert_frame_equal(_table(results), _table(one_by_one))
    sources = [results.device_results[d.device_id].data_sources["values"] for d in devices]
    assert all(source["batched"] for source in sources)
    # Batches of 5 over 2 workers: groups of 3 and 2, each fetched by one query in its worker.
    queries = [source["query"] for source in sources]
    assert [len(set(queries[a:b])) for a, b in ((0, 3), (3, 5), (5, 8), (8, 10))] == [1, 1, 1, 1]
    assert len(set(queries)) == 4
    for device, query in zip(devices, queries, strict=True):
        pid = results.device_results[device.device_id].get_artifact("values/pid")
        assert query.split(":")[0] == str(pid) != str(os.getpid()), "fetched where processed"


def test_fetch_in_workers_a_group_that_fails_is_retried_device_by_device() -> None:
    # One device's data object cannot be pickled: its group's task fails as a whole, and
    # only that device fails once each device of the group has been retried alone.
    devices = [*DEVICES[:4], DeviceUnit("lock", {"fault": "unpicklable"}), *DEVICES[4:]]
    results = _pipeline(
        executor="processes", cpu_max_workers=2, fetch_in_workers=True
    ).run_producer_consumer(devices)
    assert results.failed_devices == ["lock"]
    error = results.device_results["lock"].errors[0]
    assert error.component == "executor" and "pickle" in error.message.lower(), error.message
    expected = _table(_pipeline(executor="threads").run_producer_consumer(DEVICES))
    pd.testing.assert_frame_equal(
        _table(results).query("device_id != 'lock'").reset_index(drop=True), expected
    )


def test_a_local_cluster_starts_while_the_first_batches_are_fetched() -> None:
    # Starting a LocalCluster (scheduler, worker processes) takes a second or more; the
    # first fetch must not wait for it, as it does not wait for a process pool's workers.
    results = _pipeline(executor="dask", cpu_max_workers=2).run_producer_consumer(DEVICES)
    assert sorted(results.successful_devices) == sorted(d.device_id for d in DEVICES)
    first_fetch = min(span.start for span in results.io_timing.per_batch)
    assert first_fetch < 0.3, f"the first fetch started {first_fetch:.2f} s into the run"


def test_the_runs_local_cluster_closes_after_the_run_returns() -> None:
    # Closed on a thread of its own once every result is in; no process outlives it.
    import multiprocessing
    import threading

    from meshinsights.executors import CLUSTER_CLOSER

    before = {child.pid for child in multiprocessing.active_children()}
    results = _pipeline(executor="dask", cpu_max_workers=2).run_producer_consumer(DEVICES)
    assert sorted(results.successful_devices) == sorted(d.device_id for d in DEVICES)
    closers = [t for t in threading.enumerate() if t.name == CLUSTER_CLOSER]
    for closer in closers:
        assert not closer.daemon  # the interpreter waits for it before exiting
        closer.join(60)
    assert not any(closer.is_alive() for closer in closers)
    assert {child.pid for child in multiprocessing.active_children()} <= before


def test_a_local_cluster_that_cannot_start_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import distributed

    def no_cluster(**_: object) -> None:
        raise OSError("no free port on 127.0.0.1")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    with pytest.raises(OSError, match="no free port"):
        _pipeline(executor="dask", cpu_max_workers=2).run_producer_consumer(DEVICES)


def test_process_workers_spawn_when_the_run_starts() -> None:
    from meshinsights.executors import Stage2Runner

    with Stage2Runner(_pipeline(executor="processes", cpu_max_workers=2)) as runner:
        pool = runner._executor()
        assert len(pool._processes) == 2  # type: ignore[attr-defined]


def test_dask_without_distributed_installed_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ConfigError, match=r'pip install "meshinsights-core\[dask\]"'):
        _pipeline(executor="dask", cpu_max_workers=2).run_producer_consumer(DEVICES)


def test_dask_workers_unpickle_the_pipeline_before_their_first_device() -> None:
    import time

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pipeline = _pipeline(executor="dask", cpu_max_workers=2,
                             dask_scheduler=cluster.scheduler_address)
        pipeline.run_producer_consumer([])  # no device at all: only the warm-up reaches them
        deadline = time.monotonic() + 30
        while True:
            loaded = client.run(
                lambda: __import__("meshinsights.executors").executors._pipeline_from_blob
                .cache_info().currsize
            )
            if all(loaded.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert sorted(loaded.values()) == [1, 1]

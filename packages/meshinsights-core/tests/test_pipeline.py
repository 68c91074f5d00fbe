"""The two-stage runner: per-device isolation, stop_on_error, freezing, results and timings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs
import pandas as pd
import pytest

from meshinsights import (
    BatchResults,
    DeviceUnit,
    FrozenDatasetError,
    Pipeline,
    PipelineConfig,
    PipelineDataObject,
    PluginManager,
    Processor,
    hookimpl,
)
from meshinsights.testing import isolated_host

Factory = Callable[..., Any]
RUNNERS = ["run_producer_consumer", "run_batch"]


def runner_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate()
        if t.name.startswith(("meshinsights-io", "meshinsights-cpu")) and t.is_alive()
    ]


def run(pipeline: Pipeline, runner: str, devices: list[DeviceUnit]) -> BatchResults:
    results: BatchResults = getattr(pipeline, runner)(devices)
    return results


# ---------------------------------------------------------------------------- happy path
@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize(("io_workers", "cpu_workers"), [(1, 1), (3, 2)])
def test_every_device_gets_its_own_results(
    fleet_factory: Factory, runner: str, io_workers: int, cpu_workers: int
) -> None:
    fleet = fleet_factory(7, rows=5)
    pipeline = fleet.pipeline(batch_size=3, io_max_workers=io_workers, cpu_max_workers=cpu_workers)
    results = run(pipeline, runner, fleet.devices)

    assert results.successful_devices == fleet.device_ids  # in device order
    assert results.failed_devices == [] and results.skipped_devices == []
    table = fleet.tables["telemetry"]
    for device_id, dobj in results.device_results.items():
        assert dobj.device_id == device_id
        expected_peak = table.loc[table["DeviceId"] == device_id, "PowerKW"].max()
        assert dobj.get_artifact("power/peak_kw") == expected_peak
        frame = dobj.get_dataset("telemetry")
        assert set(frame["device_id"]) == {device_id}
        assert list(frame.columns) == ["device_id", "timestamp", "power_kw", "stage"]
        assert dobj.data_sources["telemetry"]["plugin"] == "memory"
        assert dobj.normalization_metadata["telemetry"] == {
            "normalizer": "TelemetryNormalizer", "rows_in": 5, "rows_out": 5,
        }
    assert runner_threads() == []
    assert PluginManager.active_connections() == []


def test_empty_device_list_gives_empty_results(fleet_factory: Factory) -> None:
    pipeline = fleet_factory(0).pipeline()
    for runner in RUNNERS:
        results = run(pipeline, runner, [])
        assert results.device_results == {}
        assert results.successful_devices == results.failed_devices == []
        assert results.io_timing.per_batch == results.cpu_timing.per_batch == []
        assert results.to_dataframe().empty
        assert not results.stopped_early
    assert list(pipeline.iter_batches([])) == []
    assert runner_threads() == []


def test_devices_must_be_unique_device_units(fleet_factory: Factory) -> None:
    pipeline = fleet_factory(2).pipeline()
    with pytest.raises(ValueError, match="'dev-000' appears more than once"):
        pipeline.run_producer_consumer([DeviceUnit("dev-000"), DeviceUnit("dev-000")])
    with pytest.raises(TypeError, match="DeviceUnit"):
        pipeline.run_batch(["dev-000"])  # type: ignore[list-item]


# ---------------------------------------------------------------------------- isolation
ISOLATION_CASES = {
    "source": (
        "fail_source", "io",
        "data source 'telemetry' (TelemetrySource)",
        "ConnectionError: telemetry store unreachable for {device}",
    ),
    "normalizer": (
        "fail_normalizer", "io",
        "normalizer TelemetryNormalizer of 'telemetry'",
        "ValueError: PowerKW is in watts for this device",
    ),
    "processor": (
        "fail_processor", "cpu",
        "Explode",
        "ZeroDivisionError: no cycles for {device}",
    ),
}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("where", sorted(ISOLATION_CASES))
def test_a_failing_device_is_isolated_with_an_error_naming_device_stage_component_cause(
    fleet_factory: Factory, where: str, runner: str
) -> None:
    option, stage, component, cause = ISOLATION_CASES[where]
    bad = ["dev-001", "dev-004"]
    fleet = fleet_factory(6, **{option: bad})
    pipeline = fleet.pipeline(batch_size=2, io_max_workers=2, cpu_max_workers=2)
    results = run(pipeline, runner, fleet.devices)

    assert results.failed_devices == bad
    assert results.successful_devices == [d for d in fleet.device_ids if d not in bad]
    assert not results.stopped_early
    for device_id in results.successful_devices:
        assert results.device_results[device_id].get_artifact("power/peak_kw") == 5.0
    for device_id in bad:
        dobj = results.device_results[device_id]
        assert dobj.status == "failed"
        [error] = dobj.errors
        assert error.stage == stage
        assert error.component is not None and component in error.component
        assert error.message.startswith(f"device {device_id!r}: {stage} stage, ")
        assert component in error.message
        assert error.message.endswith(cause.format(device=device_id))
        if stage == "io":  # the chain never ran on data that is not there
            assert dobj.artifacts == {}
    frame = results.to_dataframe()
    assert frame.set_index("device_id").loc[bad, "status"].tolist() == ["failed", "failed"]
    assert runner_threads() == []


class _FactoryFailures:
    """Factories that raise for one device each."""

    def __init__(self, fleet: Any) -> None:
        self.fleet = fleet

    def sources(self, device: DeviceUnit) -> Any:
        if device.device_id == "dev-000":
            raise KeyError("location_id")
        return self.fleet.sources(device)

    def normalizers(self, device: DeviceUnit) -> Any:
        if device.device_id == "dev-001":
            raise RuntimeError("no normalizer for this model")
        return self.fleet.normalizers(device)

    def processors(self, device: DeviceUnit) -> Any:
        if device.device_id == "dev-002":
            raise RuntimeError("no thresholds configured")
        return self.fleet.processors(device)

    def data_object(self, device_id: str, pipeline_name: str, metadata: Any) -> PipelineDataObject:
        if device_id == "dev-003":
            raise ValueError("bad metadata")
        return PipelineDataObject(f"{pipeline_name}_{device_id}", {"device_id": device_id})


def test_factory_failures_fail_only_their_device(fleet_factory: Factory) -> None:
    fleet = fleet_factory(5)
    f = _FactoryFailures(fleet)
    pipeline = Pipeline(
        f.sources, f.normalizers, f.processors, data_object_factory=f.data_object,
        config=PipelineConfig(batch_size=2, io_max_workers=2),
    )
    results = pipeline.run_producer_consumer(fleet.devices)
    assert results.successful_devices == ["dev-004"]
    messages = {d: results.device_results[d].errors[0].message for d in results.failed_devices}
    assert messages == {
        "dev-000": "device 'dev-000': io stage, data_source_factory: KeyError: 'location_id'",
        "dev-001": "device 'dev-001': io stage, normalizer_factory: "
                   "RuntimeError: no normalizer for this model",
        "dev-002": "device 'dev-002': cpu stage, processor_factory: "
                   "RuntimeError: no thresholds configured",
        "dev-003": "device 'dev-003': cpu stage, data_object_factory: ValueError: bad metadata",
    }
    assert results.device_results["dev-004"].pipeline_name == "meshinsights_dev-004"


def test_fetch_device_and_process_device_never_raise(fleet_factory: Factory) -> None:
    fleet = fleet_factory(2, fail_source=["dev-000"], fail_processor=["dev-001"])
    pipeline = fleet.pipeline()
    failed_io = pipeline.fetch_device(fleet.devices[0])
    assert failed_io.datasets == {}
    assert [m.stage for m in failed_io.errors] == ["io"]
    io_batch = pipeline.stage1_io_operations(fleet.devices[1:])
    dobj = pipeline.process_device(fleet.devices[1], io_batch)
    assert dobj.get_artifact("power/peak_kw") == 5.0  # the step before the failure kept its output
    assert [e.component for e in dobj.errors] == ["Explode"]
    assert dobj.timings["cpu_total"] >= dobj.timings["Explode"]


# ---------------------------------------------------------------------------- stop_on_error
class _CountingFleet:
    """Wraps a fleet's sources to record which devices Stage 1 fetched."""

    def __init__(self, fleet: Any) -> None:
        self.fleet = fleet
        self.fetched: list[str] = []

    def sources(self, device: DeviceUnit) -> Any:
        sources = self.fleet.sources(device)
        for source in sources.values():
            def fetch(original: Any = source.fetch, device_id: str = device.device_id) -> Any:
                self.fetched.append(device_id)
                return original()

            source.fetch = fetch
        return sources


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize(
    ("where", "cpu_workers"), [("fail_processor", 1), ("fail_processor", 2), ("fail_source", 1)]
)
def test_stop_on_error_stops_cleanly(
    fleet_factory: Factory, runner: str, where: str, cpu_workers: int
) -> None:
    fleet = fleet_factory(40, **{where: ["dev-005"]}, io_delay=0.002)
    counting = _CountingFleet(fleet)
    pipeline = Pipeline(
        counting.sources, fleet.normalizers, fleet.processors,
        config=PipelineConfig(
            batch_size=2, io_max_workers=3, cpu_max_workers=cpu_workers, stop_on_error=True,
            queue_size=2,
        ),
    )
    results = run(pipeline, runner, fleet.devices)

    assert results.stopped_early
    assert results.failed_devices == ["dev-005"]
    # Stage 2 goes in device order: everything before the failure finished, nothing after it.
    assert results.successful_devices == fleet.device_ids[:5]
    assert results.skipped_devices == fleet.device_ids[6:]
    assert set(results.device_results) == set(fleet.device_ids[:6])
    # Stage 1 never ran far past the failing batch (at most queue_size batches ahead).
    failing_batch = 5 // 2
    assert len(counting.fetched) <= (failing_batch + 1 + 2) * 2 < len(fleet.device_ids)
    assert runner_threads() == []
    assert PluginManager.active_connections() == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_stop_on_error_cancels_the_fetches_queued_ahead(fleet_factory: Factory, runner: str) -> None:
    # I/O bound, one I/O worker: when batch 2 fails in Stage 2, the worker is busy with
    # the first device of batch 3 and batch 4 waits in the pool. Neither may go on.
    fleet = fleet_factory(12, fail_processor=["dev-005"], io_delay=0.05)
    counting = _CountingFleet(fleet)
    pipeline = Pipeline(
        counting.sources, fleet.normalizers, fleet.processors,
        config=PipelineConfig(batch_size=2, io_max_workers=1, stop_on_error=True, queue_size=2),
    )
    results = run(pipeline, runner, fleet.devices)
    assert results.skipped_devices == fleet.device_ids[6:]
    # At most the one fetch under way when the stop came (none for run_batch) goes on.
    in_flight = 1 if runner == "run_producer_consumer" else 0
    assert counting.fetched[:6] == fleet.device_ids[:6]
    assert counting.fetched in (fleet.device_ids[:6], fleet.device_ids[: 6 + in_flight])
    assert runner_threads() == []


def test_stop_on_error_in_iter_batches_ends_the_stream(fleet_factory: Factory) -> None:
    fleet = fleet_factory(8, fail_processor=["dev-002"])
    batches = list(fleet.pipeline(batch_size=2, stop_on_error=True).iter_batches(fleet.devices))
    assert len(batches) == 2
    assert batches[-1].stopped_early
    assert batches[-1].skipped_devices == ["dev-003", "dev-004", "dev-005", "dev-006", "dev-007"]


def test_closing_iter_batches_early_leaves_no_thread(fleet_factory: Factory) -> None:
    fleet = fleet_factory(20, io_delay=0.002)
    stream = fleet.pipeline(batch_size=2, io_max_workers=3).iter_batches(fleet.devices)
    first = next(stream)
    assert first.successful_devices == ["dev-000", "dev-001"]
    stream.close()
    assert runner_threads() == []
    assert PluginManager.active_connections() == []


# ---------------------------------------------------------------------------- freezing
class Vandal(Processor):
    """Writes to the dataset it was given, then records what it saw."""

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        frame = data_object.get_dataset("telemetry")
        frame["power_kw"] = -1.0
        frame.loc[:, "stage"] = "tampered"
        frame["extra"] = 1
        data_object.set_artifact("vandal/sum", float(frame["power_kw"].sum()))
        return data_object


class Witness(Processor):
    """Records what the next processor sees."""

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        frame = data_object.get_dataset("telemetry")
        data_object.set_artifact("witness/columns", list(frame.columns))
        data_object.set_artifact("witness/sum", float(frame["power_kw"].sum()))
        return data_object


class Replacer(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        data_object.normalized_data["telemetry"] = pd.DataFrame()  # type: ignore[index]
        return data_object


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_keeps_processors_from_reaching_the_stored_frame(
    fleet_factory: Factory, freeze: bool
) -> None:
    fleet = fleet_factory(2, rows=4)
    pipeline = Pipeline(
        fleet.sources, fleet.normalizers, lambda device: [Vandal(), Witness()],
        config=PipelineConfig(freeze_normalized_data=freeze),
    )
    io_batch = pipeline.stage1_io_operations(fleet.devices)
    stored = io_batch.device_data["dev-000"]["telemetry"]
    before = stored.copy(deep=True)
    results = pipeline.stage2_cpu_operations(io_batch, fleet.devices)

    dobj = results.device_results["dev-000"]
    assert dobj.get_artifact("vandal/sum") == -4.0  # the processor's own copy did change
    if freeze:
        pd.testing.assert_frame_equal(stored, before)
        assert dobj.get_artifact("witness/sum") == before["power_kw"].sum()
        assert dobj.get_artifact("witness/columns") == list(before.columns)
    else:  # without freezing, the writes land in the frame everyone shares
        assert (stored["power_kw"] == -1.0).all()
        assert dobj.get_artifact("witness/sum") == -4.0


def test_replacing_a_normalized_dataset_fails_the_device(fleet_factory: Factory) -> None:
    fleet = fleet_factory(2)
    pipeline = Pipeline(
        fleet.sources, fleet.normalizers,
        lambda device: [Replacer()] if device.device_id == "dev-000" else [Witness()],
    )
    results = pipeline.run_producer_consumer(fleet.devices)
    assert results.failed_devices == ["dev-000"]
    message = results.device_results["dev-000"].errors[0].message
    assert "processor Replacer: FrozenDatasetError" in message
    assert "'telemetry' is read-only" in message
    with pytest.raises(FrozenDatasetError):
        results.device_results["dev-001"].normalized_data["telemetry"] = pd.DataFrame()  # type: ignore[index]


# ---------------------------------------------------------------------------- results
def test_batch_results_carry_timings_per_device_and_per_batch(fleet_factory: Factory) -> None:
    fleet = fleet_factory(7, io_delay=0.01, cpu_seconds=0.002)
    results = fleet.pipeline(batch_size=3, io_max_workers=2).run_producer_consumer(fleet.devices)

    assert set(results.io_timing.per_device) == set(fleet.device_ids)
    assert set(results.cpu_timing.per_device) == set(fleet.device_ids)
    assert min(results.io_timing.per_device.values()) >= 0.01  # each fetch slept that long
    assert min(results.cpu_timing.per_device.values()) > 0
    for timing in (results.io_timing, results.cpu_timing):
        assert [s.batch_index for s in timing.per_batch] == [0, 1, 2]
        assert [s.n_devices for s in timing.per_batch] == [3, 3, 1]
        assert all(0 <= s.start <= s.end for s in timing.per_batch)
        assert timing.total == pytest.approx(sum(timing.per_device.values()))
    for io_span, cpu_span in zip(results.io_timing.per_batch, results.cpu_timing.per_batch, strict=True):
        assert io_span.end <= cpu_span.start + 1e-6  # a batch's Stage 2 waits for its Stage 1
    assert results.wall_time >= results.cpu_timing.per_batch[-1].end
    summary = results.summary()
    assert summary["devices"] == summary["successful"] == 7
    assert summary["run_id"] == results.run_id and len(results.run_id) == 12


def test_stage_methods_and_process_batch(fleet_factory: Factory) -> None:
    fleet = fleet_factory(3, fail_source=["dev-002"])
    pipeline = fleet.pipeline(io_max_workers=2)
    io_batch = pipeline.stage1_io_operations(fleet.devices, batch_index=4)
    assert io_batch.batch_index == 4
    assert set(io_batch.device_data) == set(fleet.device_ids)
    assert io_batch.device_data["dev-002"] == {}
    assert list(io_batch.errors) == ["dev-002"]
    assert io_batch.device_metadata["dev-000"]["normalization"]["telemetry"]["rows_out"] == 6
    assert [s.batch_index for s in io_batch.timing.per_batch] == [4]

    results = pipeline.stage2_cpu_operations(io_batch, fleet.devices)
    assert results.successful_devices == ["dev-000", "dev-001"]
    assert results.failed_devices == ["dev-002"]
    assert results.cpu_timing.per_batch[0].batch_index == 4

    again = pipeline.process_batch(fleet.devices[:2], batch_index=1)
    assert again.successful_devices == ["dev-000", "dev-001"]
    assert again.io_timing.per_batch[0].batch_index == 1


def test_iter_batches_streams_one_result_per_batch(fleet_factory: Factory) -> None:
    fleet = fleet_factory(5)
    pipeline = fleet.pipeline(batch_size=2, io_max_workers=2, retain_normalized_data=False)
    seen = [list(batch.device_results) for batch in pipeline.iter_batches(fleet.devices)]
    assert seen == [["dev-000", "dev-001"], ["dev-002", "dev-003"], ["dev-004"]]
    batch = next(pipeline.iter_batches(fleet.devices[:1]))
    dobj = batch.device_results["dev-000"]
    assert len(dobj.normalized_data) == 0  # released after Stage 2
    assert dobj.get_artifact("power/peak_kw") == 5.0  # artifacts stay


def test_default_data_object_carries_device_metadata(fleet_factory: Factory) -> None:
    fleet = fleet_factory(1)
    device = DeviceUnit("dev-000", metadata={"pipeline": "phd_hvac_power"})
    results = fleet.pipeline(pipeline_name="hvac").run_batch([device])
    dobj = results.device_results["dev-000"]
    assert dobj.pipeline_name == "hvac"
    assert dobj.config == {"device_id": "dev-000", "pipeline": "phd_hvac_power"}


@attrs.define
class _Recorder:
    events: list[tuple[str, Any]] = attrs.field(factory=list)

    @hookimpl
    def on_batch_start(self, batch_index: int, devices: Any, run_id: str) -> None:
        self.events.append(("batch_start", batch_index))

    @hookimpl
    def on_device_end(self, device_id: str, data_object: PipelineDataObject, run_id: str) -> None:
        self.events.append(("device_end", device_id))

    @hookimpl
    def on_run_end(self, results: BatchResults, run_id: str) -> None:
        self.events.append(("run_end", results.n_devices))


def test_lifecycle_hooks_see_every_device(fleet_factory: Factory) -> None:
    recorder = _Recorder()
    fleet = fleet_factory(3)
    with isolated_host(recorder):
        fleet.pipeline(batch_size=2).run_producer_consumer(fleet.devices)
    assert recorder.events == [
        ("batch_start", 0), ("device_end", "dev-000"), ("device_end", "dev-001"),
        ("batch_start", 1), ("device_end", "dev-002"), ("run_end", 3),
    ]


def test_pipeline_config_defaults_and_validation() -> None:
    config = PipelineConfig(log_level="debug")
    assert config.log_level == "DEBUG"
    assert (config.queue_size, config.io_max_workers, config.cpu_max_workers) == (2, 1, 1)
    assert config.freeze_normalized_data and not config.stop_on_error
    for bad in ({"batch_size": 0}, {"io_max_workers": 0}, {"queue_size": 0}, {"log_level": "LOUD"}):
        with pytest.raises(ValueError):
            PipelineConfig(**bad)

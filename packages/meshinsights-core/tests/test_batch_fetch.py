"""Batched fetches: one query per batch, split per device, per-device errors kept."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest

from meshinsights import (
    DataNormalizer,
    DataSource,
    DBConnector,
    DeviceUnit,
    NormalizationError,
    Pipeline,
    PipelineConfig,
    PipelineDataObject,
    Processor,
    hookimpl,
)
from meshinsights.testing import isolated_host

TABLE = pd.DataFrame({
    "device_id": [f"d{i}" for i in range(6) for _ in range(4)],
    "value": [float(i * 10 + j) for i in range(6) for j in range(4)],
})
QUERIES: list[tuple[str, Any]] = []


class CountingConnector(DBConnector):
    """Serves TABLE; a device id "boom" in a query makes it fail like a bad query would."""

    def connect(self) -> tuple[Any, Any]:
        return None, None

    def execute_query(self, query: str, parameters: Any = None) -> pd.DataFrame:
        QUERIES.append((query, parameters))
        ids = parameters["ids"]
        if "boom" in ids:
            raise RuntimeError("server rejected the query")
        return TABLE[TABLE["device_id"].isin(ids)].reset_index(drop=True)


class SlowConnector(CountingConnector):
    """A server far away: every query waits QUERY_SECONDS before it answers."""

    def execute_query(self, query: str, parameters: Any = None) -> pd.DataFrame:
        time.sleep(QUERY_SECONDS)
        return super().execute_query(query, parameters)


QUERY_SECONDS = 0.3


class ValuesSource(DataSource):
    def __init__(self, device_id: str, config: dict[str, Any], plugin: str = "counting") -> None:
        super().__init__("values", plugin, config)
        self.device_id = device_id

    def build_query(self) -> str:
        return "values"

    def build_parameters(self) -> dict[str, Any]:
        return {"ids": [self.device_id]}

    @classmethod
    def build_batch(cls, sources: Sequence[DataSource]) -> tuple[str, Any] | None:
        return "values", {"ids": [s.device_id for s in sources]}  # type: ignore[attr-defined]

    def split_batch(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["device_id"] == self.device_id].reset_index(drop=True)


class NonEmpty(DataNormalizer):
    def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
        if data.empty:
            raise NormalizationError("column 'value': no rows for this device")
        return data


class Total(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        data_object.set_artifact("total", float(data_object.get_dataset("values")["value"].sum()))
        return data_object


class Plugin:
    @hookimpl
    def register_connectors(self, register: Any) -> None:
        register("counting", CountingConnector)
        register("slow-counting", SlowConnector)


def _run(devices: list[str], *, batch_fetch: bool, tenant: str = "a") -> Any:
    QUERIES.clear()
    pipeline = Pipeline(
        lambda d: {"values": ValuesSource(d.device_id, {"tenant": tenant})},
        lambda d: {"values": NonEmpty()},
        lambda d: [Total()],
        config=PipelineConfig(batch_size=3, io_max_workers=2, batch_fetch=batch_fetch),
    )
    with isolated_host(Plugin()):
        return pipeline.run_producer_consumer([DeviceUnit(d) for d in devices])


def _totals(results: Any) -> dict[str, Any]:
    return {k: (v.status, v.get_artifact("total")) for k, v in sorted(results.device_results.items())}


def test_one_query_per_batch_with_the_same_results() -> None:
    devices = [f"d{i}" for i in range(6)]
    single = _run(devices, batch_fetch=False)
    assert len(QUERIES) == 6
    batched = _run(devices, batch_fetch=True)
    assert [p["ids"] for _, p in QUERIES] == [["d0", "d1", "d2"], ["d3", "d4", "d5"]]
    assert _totals(batched) == _totals(single)
    metadata = batched.device_results["d4"].data_sources["values"]
    assert metadata["batched"] is True


def test_a_device_missing_from_the_result_is_that_devices_error() -> None:
    results = _run(["d0", "ghost", "d2"], batch_fetch=True)
    assert len(QUERIES) == 1
    assert results.failed_devices == ["ghost"]
    assert "no rows for this device" in results.device_results["ghost"].errors[0].message
    assert sorted(results.successful_devices) == ["d0", "d2"]


def test_a_failing_batch_query_falls_back_to_one_query_per_device() -> None:
    results = _run(["d0", "boom", "d2"], batch_fetch=True)
    assert [p["ids"] for _, p in QUERIES] == [["d0", "boom", "d2"], ["d0"], ["boom"], ["d2"]]
    assert results.failed_devices == ["boom"]
    error = results.device_results["boom"].errors[0].message
    assert error.startswith("device 'boom': io stage, data source 'values'")
    assert "server rejected the query" in error


@pytest.mark.parametrize("tenants", [("a", "b")])
def test_sources_with_different_configs_are_never_batched_together(tenants: tuple[str, str]) -> None:
    QUERIES.clear()
    pipeline = Pipeline(
        lambda d: {"values": ValuesSource(d.device_id, {"tenant": tenants[int(d.device_id[1]) % 2]})},
        lambda d: {"values": NonEmpty()},
        lambda d: [Total()],
        config=PipelineConfig(batch_size=4, io_max_workers=1),
    )
    with isolated_host(Plugin()):
        pipeline.run_producer_consumer([DeviceUnit(f"d{i}") for i in range(4)])
    assert sorted(p["ids"] for _, p in QUERIES) == [["d0", "d2"], ["d1", "d3"]]


class OnePassSource(ValuesSource):
    """Splits a batch in one pass; ``wrong_count`` makes it return one frame too few."""

    calls = 0
    wrong_count = False

    @classmethod
    def split_batches(cls, frame: pd.DataFrame, sources: Sequence[DataSource]) -> list[pd.DataFrame]:
        cls.calls += 1
        rows = frame.groupby("device_id", sort=False).indices
        parts = [frame.take(rows.get(s.device_id, [])).reset_index(drop=True)  # type: ignore[attr-defined]
                 for s in sources]
        return parts[:-1] if cls.wrong_count else parts


def _run_with(source: type[ValuesSource], devices: list[str], plugin: str = "counting") -> Any:
    QUERIES.clear()
    pipeline = Pipeline(
        lambda d: {"values": source(d.device_id, {"tenant": "a"}, plugin)},
        lambda d: {"values": NonEmpty()},
        lambda d: [Total()],
        config=PipelineConfig(batch_size=3, io_max_workers=2, batch_fetch=True),
    )
    with isolated_host(Plugin()):
        return pipeline.run_producer_consumer([DeviceUnit(d) for d in devices])


def test_split_batches_splits_each_batch_once_with_the_same_results() -> None:
    devices = [f"d{i}" for i in range(6)]
    OnePassSource.calls, OnePassSource.wrong_count = 0, False
    results = _run_with(OnePassSource, devices)
    assert OnePassSource.calls == 2 and len(QUERIES) == 2
    assert _totals(results) == _totals(_run(devices, batch_fetch=False))


def test_split_batches_returning_too_few_frames_falls_back_to_single_queries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    OnePassSource.calls, OnePassSource.wrong_count = 0, True
    try:
        results = _run_with(OnePassSource, ["d0", "d1", "d2"])
    finally:
        OnePassSource.wrong_count = False
    assert len(QUERIES) == 1 + 3
    assert sorted(results.successful_devices) == ["d0", "d1", "d2"]
    assert "split_batches returned 2 frames for 3 sources" in caplog.text


def test_a_batch_span_starts_with_its_batched_query() -> None:
    """The query's time is inside the batch's I/O span; each device is charged its share."""
    results = _run_with(ValuesSource, ["d0", "d1", "d2"], plugin="slow-counting")
    assert len(QUERIES) == 1
    (span,) = results.io_timing.per_batch
    assert span.end - span.start >= QUERY_SECONDS
    per_device = results.io_timing.per_device
    assert sum(per_device.values()) >= QUERY_SECONDS
    assert all(seconds >= QUERY_SECONDS / 3 for seconds in per_device.values())


def test_a_device_s_raw_rows_leave_the_batch_plan_once_it_is_fetched() -> None:
    """A raw frame split from the batch may be a view of it: the plan must not keep it,
    or every device's rows (the whole batched result) would live until the batch ends."""
    pipeline = Pipeline(
        lambda d: {"values": ValuesSource(d.device_id, {"tenant": "a"})},
        lambda d: {"values": NonEmpty()},
        lambda d: [Total()],
        config=PipelineConfig(batch_size=3, batch_fetch=True),
    )
    devices = [DeviceUnit(d) for d in ("d0", "d1", "d2")]
    with isolated_host(Plugin()):
        plans = pipeline.prefetch_batch(devices)
        assert all("values" in plans[d.device_id].raw for d in devices)
        fetched = pipeline.fetch_device(devices[1], plans["d1"])
    assert "values" in fetched.datasets and not fetched.errors
    assert plans["d1"].raw == {}
    assert all("values" in plans[d].raw for d in ("d0", "d2"))

"""Batched fetches: one query per batch, split per device, per-device errors kept."""

from __future__ import annotations

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


class ValuesSource(DataSource):
    def __init__(self, device_id: str, config: dict[str, Any]) -> None:
        super().__init__("values", "counting", config)
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

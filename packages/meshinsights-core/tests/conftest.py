"""Shared parts of the runner tests: an isolated plugin host and a small memory-backed fleet.

The pipeline pieces here are ordinary subclasses of the public base classes,
reading per-device rows from the built-in ``memory`` connector, so the tests
drive the real runner, connector pool and plugin host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd
import pytest

from meshinsights import (
    DataNormalizer,
    DataSource,
    DeviceUnit,
    Pipeline,
    PipelineConfig,
    PipelineDataObject,
    Processor,
)
from meshinsights.plugins import PluginHost
from meshinsights.testing import isolated_host

RUNNER_THREAD_PREFIXES = ("meshinsights-io", "meshinsights-cpu")


def runner_threads() -> list[threading.Thread]:
    """Live threads of the runner's I/O and CPU pools."""
    return [
        t for t in threading.enumerate()
        if t.name.startswith(RUNNER_THREAD_PREFIXES) and t.is_alive()
    ]


def make_telemetry(device_ids: Sequence[str], rows: int = 6) -> pd.DataFrame:
    """``rows`` readings per device: power grows with the row number, stage alternates."""
    n = len(device_ids)
    return pd.DataFrame(
        {
            "DeviceId": [d for d in device_ids for _ in range(rows)],
            "Time": list(pd.date_range("2025-02-05", periods=rows, freq="h", tz="UTC")) * n,
            "PowerKW": [float(i) for _ in range(n) for i in range(rows)],
            "Stage": [f"stage{i % 2 + 1}" for _ in range(n) for i in range(rows)],
        }
    )


class TelemetrySource(DataSource):
    """One device's rows of the ``telemetry`` table, the device id sent as a filter."""

    def __init__(
        self, device_id: str, tables: Mapping[str, pd.DataFrame], *, delay: float = 0.0,
        fail: bool = False, **extra_config: Any,
    ) -> None:
        super().__init__("telemetry", "memory", {"tables": tables, **extra_config})
        self.device_id = device_id
        self.delay = delay
        self.fail = fail

    def build_query(self) -> str:
        return "telemetry"

    def build_parameters(self) -> dict[str, Any]:
        return {"DeviceId": self.device_id}

    def fetch(self) -> pd.DataFrame:
        if self.fail:
            raise ConnectionError(f"telemetry store unreachable for {self.device_id}")
        if self.delay:
            time.sleep(self.delay)
        return super().fetch()


class TelemetryNormalizer(DataNormalizer):
    """Renames the raw columns; fails on request to exercise isolation."""

    required_columns = ("DeviceId", "Time", "PowerKW", "Stage")

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
        if self.fail:
            raise ValueError("PowerKW is in watts for this device")
        return data.rename(
            columns={"DeviceId": "device_id", "Time": "timestamp", "PowerKW": "power_kw",
                     "Stage": "stage"}
        )


class PeakPower(Processor):
    """Writes the device's peak power as an artifact."""

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        frame = data_object.get_dataset("telemetry")
        data_object.set_artifact("power/peak_kw", float(frame["power_kw"].max()))
        return data_object


class Explode(Processor):
    """Raises on purpose."""

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        raise ZeroDivisionError(f"no cycles for {data_object.device_id}")


class Burn(Processor):
    """Holds the GIL with pure-Python work for ``seconds`` of this thread's CPU time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        deadline = time.thread_time() + self.seconds
        n = 0
        while time.thread_time() < deadline:
            n += sum(range(100))
        data_object.set_artifact("burn/n", n)
        return data_object


class Fleet:
    """Factories over a memory table, with chosen devices failing at chosen places."""

    def __init__(
        self, n: int = 6, *, rows: int = 6, fail_source: Sequence[str] = (),
        fail_normalizer: Sequence[str] = (), fail_processor: Sequence[str] = (),
        io_delay: float = 0.0, cpu_seconds: float = 0.0,
    ) -> None:
        self.device_ids = [f"dev-{i:03d}" for i in range(n)]
        self.tables = {"telemetry": make_telemetry(self.device_ids, rows)}
        self.fail_source = set(fail_source)
        self.fail_normalizer = set(fail_normalizer)
        self.fail_processor = set(fail_processor)
        self.io_delay = io_delay
        self.cpu_seconds = cpu_seconds

    @property
    def devices(self) -> list[DeviceUnit]:
        return [DeviceUnit(d, parameters={"site": "11688"}) for d in self.device_ids]

    def sources(self, device: DeviceUnit) -> dict[str, DataSource]:
        return {
            "telemetry": TelemetrySource(
                device.device_id, self.tables, delay=self.io_delay,
                fail=device.device_id in self.fail_source,
            )
        }

    def normalizers(self, device: DeviceUnit) -> dict[str, DataNormalizer]:
        return {"telemetry": TelemetryNormalizer(fail=device.device_id in self.fail_normalizer)}

    def processors(self, device: DeviceUnit) -> list[Processor]:
        chain: list[Processor] = [PeakPower()]
        if self.cpu_seconds:
            chain.append(Burn(self.cpu_seconds))
        if device.device_id in self.fail_processor:
            chain.append(Explode())
        return chain

    def pipeline(self, **config: Any) -> Pipeline:
        config.setdefault("batch_size", 2)
        config.setdefault("pipeline_name", "test")
        return Pipeline(
            data_source_factory=self.sources,
            normalizer_factory=self.normalizers,
            processor_factory=self.processors,
            config=PipelineConfig(**config),
        )


@pytest.fixture
def host() -> Iterator[PluginHost]:
    """Core's built-ins only: installed third-party plugins never take part."""
    with isolated_host() as plugin_host:
        yield plugin_host


@pytest.fixture
def fleet_factory(host: PluginHost) -> Callable[..., Fleet]:
    return Fleet

"""Picklable fault-injecting parts for tests of executors, limits and crashes.

Module-level, so process pools and Dask workers can import them. A device
asks for a fault through its parameters: ``{"fault": "exit"}`` kills the
worker process, ``{"fault": "sleep", "seconds": 30}`` runs past time limits,
``{"fault": "raise"}`` raises; ``{"fault": "fetch"}`` makes the source raise;
``{"fault": "unpicklable"}`` leaves an artifact that cannot be pickled.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from meshinsights.connectors import DBConnector, QueryParameters
from meshinsights.data_object import PipelineDataObject
from meshinsights.data_source import DataSource
from meshinsights.device import DeviceUnit
from meshinsights.processor import Processor


def _values(rows: int, seed: int) -> pd.DataFrame:
    return pd.DataFrame({"value": np.random.default_rng(seed).normal(10.0, 1.0, rows)})


class SyntheticSource(DataSource):
    """``rows`` deterministic values per device; no connector needed."""

    def __init__(self, device: DeviceUnit) -> None:
        super().__init__("values", "memory")
        self.device = device

    def build_query(self) -> str:
        return "values"

    def fetch(self) -> pd.DataFrame:
        if self.device.parameters.get("fault") == "fetch":
            raise ConnectionError("injected fetch failure")
        self.fetched_in = os.getpid()
        rows = int(self.device.parameters.get("rows", 100))
        seed = sum(self.device.device_id.encode())
        return _values(rows, seed)

    def get_metadata(self) -> dict[str, Any]:
        """The usual metadata and the process that fetched (which executors check)."""
        return {**super().get_metadata(), "pid": getattr(self, "fetched_in", None)}


class SyntheticConnector(DBConnector):
    """A connector a test registers by hand (``PluginManager.register_plugin``), never discovered.

    ``execute_query("values", {"rows": n, "seed": s})`` returns ``n`` values, as
    :class:`SyntheticSource` makes them itself.
    """

    #: Queries this process has run (a batched query's rows name it: ``"<pid>:<count>"``).
    queries = 0

    def connect(self) -> tuple[Any, Any]:
        return self, None

    def execute_query(self, query: str, parameters: QueryParameters = None) -> pd.DataFrame:
        values = dict(parameters or {})
        SyntheticConnector.queries += 1
        if query == "batch":  # {"devices": [[device_id, rows, seed], ...]}: their rows, named
            parts = [_values(rows, seed).assign(device=device) for device, rows, seed in values["devices"]]
            return pd.concat(parts, ignore_index=True).assign(
                query=f"{os.getpid()}:{SyntheticConnector.queries}"
            )
        return _values(int(values["rows"]), int(values["seed"]))

    def disconnect(self) -> None:
        return None


class ConnectorSource(SyntheticSource):
    """:class:`SyntheticSource`'s values fetched through the connector named ``connector``."""

    def __init__(self, device: DeviceUnit) -> None:
        DataSource.__init__(self, "values", str(device.parameters["connector"]))
        self.device = device

    def fetch(self) -> pd.DataFrame:
        self.fetched_in = os.getpid()
        rows = int(self.device.parameters.get("rows", 100))
        return self.plugin.execute_query(
            "values", {"rows": rows, "seed": sum(self.device.device_id.encode())}
        )


class BatchingConnectorSource(ConnectorSource):
    """:class:`ConnectorSource` that also fetches many devices in one query (``build_batch``).

    Its metadata names the query that fetched it (``"query"``: the fetching
    process and its query count), so a test can tell which devices shared one.
    """

    @classmethod
    def build_batch(cls, sources: Sequence[DataSource]) -> tuple[str, QueryParameters] | None:
        devices = [source.device for source in sources]  # type: ignore[attr-defined]
        return "batch", {"devices": [
            [d.device_id, int(d.parameters.get("rows", 100)), sum(d.device_id.encode())]
            for d in devices
        ]}

    def split_batch(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.fetched_in = os.getpid()
        mine = frame[frame["device"] == self.device.device_id]
        self.query = str(mine["query"].iloc[0]) if len(mine) else None
        return mine[["value"]].reset_index(drop=True)

    def get_metadata(self) -> dict[str, Any]:
        return {**super().get_metadata(), "query": getattr(self, "query", None)}


def connector_sources(device: DeviceUnit) -> dict[str, DataSource]:
    return {"values": ConnectorSource(device)}


def batching_connector_sources(device: DeviceUnit) -> dict[str, DataSource]:
    return {"values": BatchingConnectorSource(device)}


class SummarizeValues(Processor):
    """Mean and count of the values, and a small table artifact."""

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        values = data_object.get_dataset("values")["value"]
        data_object.set_artifact("values/mean", float(values.mean()))
        data_object.set_artifact("values/pid", os.getpid())
        data_object.set_artifact("values/table", values.describe().to_frame())
        return data_object


class InjectFault(Processor):
    """Does what the device's ``fault`` parameter says."""

    def __init__(self, device: DeviceUnit) -> None:
        self.fault = device.parameters.get("fault")
        self.seconds = float(device.parameters.get("seconds", 0))

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        if self.fault == "exit":
            os._exit(13)  # the worker process dies without a word
        if self.fault == "sleep":
            time.sleep(self.seconds)
        if self.fault == "raise":
            raise RuntimeError("injected failure")
        if self.fault == "unpicklable":  # its data object cannot go back to the runner
            data_object.set_artifact("values/lock", threading.Lock())
        return data_object


def synthetic_sources(device: DeviceUnit) -> dict[str, DataSource]:
    return {"values": SyntheticSource(device)}


def no_normalizers(device: DeviceUnit) -> dict[str, object]:
    return {}


def faulty_processors(device: DeviceUnit) -> list[Processor]:
    return [InjectFault(device), SummarizeValues()]

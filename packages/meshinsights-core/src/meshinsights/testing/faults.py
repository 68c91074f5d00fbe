"""Picklable fault-injecting parts for tests of executors, limits and crashes.

Module-level, so process pools and Dask workers can import them. A device
asks for a fault through its parameters: ``{"fault": "exit"}`` kills the
worker process, ``{"fault": "sleep", "seconds": 30}`` runs past time limits,
``{"fault": "raise"}`` raises; ``{"fault": "fetch"}`` makes the source raise.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd

from meshinsights.connectors import DBConnector, QueryParameters
from meshinsights.data_object import PipelineDataObject
from meshinsights.data_source import DataSource
from meshinsights.device import DeviceUnit
from meshinsights.processor import Processor


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
        return pd.DataFrame({"value": np.random.default_rng(seed).normal(10.0, 1.0, rows)})

    def get_metadata(self) -> dict[str, Any]:
        """The usual metadata and the process that fetched (which executors check)."""
        return {**super().get_metadata(), "pid": getattr(self, "fetched_in", None)}


class SyntheticConnector(DBConnector):
    """A connector a test registers by hand (``PluginManager.register_plugin``), never discovered.

    ``execute_query("values", {"rows": n, "seed": s})`` returns ``n`` values, as
    :class:`SyntheticSource` makes them itself.
    """

    def connect(self) -> tuple[Any, Any]:
        return self, None

    def execute_query(self, query: str, parameters: QueryParameters = None) -> pd.DataFrame:
        values = dict(parameters or {})
        rng = np.random.default_rng(int(values["seed"]))
        return pd.DataFrame({"value": rng.normal(10.0, 1.0, int(values["rows"]))})

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


def connector_sources(device: DeviceUnit) -> dict[str, DataSource]:
    return {"values": ConnectorSource(device)}


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
        return data_object


def synthetic_sources(device: DeviceUnit) -> dict[str, DataSource]:
    return {"values": SyntheticSource(device)}


def no_normalizers(device: DeviceUnit) -> dict[str, object]:
    return {}


def faulty_processors(device: DeviceUnit) -> list[Processor]:
    return [InjectFault(device), SummarizeValues()]

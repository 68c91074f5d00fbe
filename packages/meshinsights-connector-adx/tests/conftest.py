"""Fixtures: the local Kusto endpoint with a small power table, and connector configs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from meshinsights.connectors import PluginManager
from meshinsights_connector_adx.pool import ADXConnectionManager
from meshinsights_connector_adx.testing import KustoTestServer

T0 = pd.Timestamp("2024-01-01T00:00:00Z")


def power_frame() -> pd.DataFrame:
    """Three devices, 20 readings each, with sub-microsecond timestamps and some nulls."""
    n = 60
    return pd.DataFrame({
        "device_id": np.repeat(["d1", "d2", "d3"], 20),
        "timestamp": T0 + pd.to_timedelta(np.tile(np.arange(20), 3), unit="min")
        + pd.Timedelta(nanoseconds=1_234_500),
        "power_w": np.where(np.arange(n) % 7 == 3, np.nan, np.arange(n) * 10.5),
        "stage": np.tile(["Y1", "Y2", "OFF", "G"], n // 4),
    })


@pytest.fixture
def kusto() -> Iterator[KustoTestServer]:
    with KustoTestServer({"Power": power_frame()}, database="telemetry") as server:
        yield server


@pytest.fixture
def config(kusto: KustoTestServer) -> dict[str, Any]:
    return {
        "cluster": kusto.url,
        "database": "telemetry",
        "auth": "none",
        "retry_attempts": 4,
        "retry_initial_wait": 0.01,
        "retry_max_wait": 0.05,
        "retry_max_seconds": 20,
    }


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    PluginManager.cleanup()
    ADXConnectionManager.close_all()

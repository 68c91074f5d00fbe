"""Fixtures: the local SiteSage server with readings of two controls, and connector configs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from meshinsights.connectors import PluginManager
from meshinsights_connector_sitesage.sessions import SiteSageSessions
from meshinsights_connector_sitesage.testing import SiteSageTestServer

T0 = pd.Timestamp("2024-01-01T00:00:00Z")
TOKEN = "tok-8d1f-secret"


def readings(n: int, offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "timestamp": T0 + pd.to_timedelta(np.arange(n), unit="min"),
        "power_w": offset + np.arange(n) * 2.5,
        "stage": np.resize(["Y1", "Y2", "W1", "W2", "G", "OFF"], n),
    })


@pytest.fixture
def sitesage() -> Iterator[SiteSageTestServer]:
    power = {("L1", "c1"): readings(45), ("L1", "c 2"): readings(5, 1000.0)}
    with SiteSageTestServer(power, token=TOKEN) as server:
        yield server


@pytest.fixture
def config(sitesage: SiteSageTestServer) -> dict[str, Any]:
    return {
        "base_url": sitesage.url,
        "token": TOKEN,
        "timeout": [2, 5],
        "page_size": 20,
        "retries": 3,
        "backoff_factor": 0.01,
        "retry_after_max": 0.2,
    }


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    yield
    PluginManager.cleanup()
    SiteSageSessions.close_all()

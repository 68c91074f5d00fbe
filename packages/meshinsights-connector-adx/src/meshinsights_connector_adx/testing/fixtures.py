"""pytest fixtures: ``pytest_plugins = ["meshinsights_connector_adx.testing.fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from meshinsights_connector_adx.testing.server import KustoTestServer


@pytest.fixture
def kusto_server() -> Iterator[KustoTestServer]:
    """A started, empty Kusto test endpoint for database ``telemetry``; add tables with ``add_table``."""
    with KustoTestServer(database="telemetry") as server:
        yield server


@pytest.fixture
def adx_config(kusto_server: KustoTestServer) -> dict[str, Any]:
    """An ``adx`` connector config for ``kusto_server`` with fast retries."""
    return {
        "cluster": kusto_server.url,
        "database": "telemetry",
        "auth": "none",
        "retry_attempts": 4,
        "retry_initial_wait": 0.01,
        "retry_max_wait": 0.05,
        "retry_max_seconds": 10,
    }

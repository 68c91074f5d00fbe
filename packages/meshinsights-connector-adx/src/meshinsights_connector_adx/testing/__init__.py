"""Test kit: a local Kusto endpoint for the real azure-kusto-data client.

In any package's tests::

    from meshinsights_connector_adx.testing import KustoTestServer

    with KustoTestServer({"Power": frame}, database="telemetry") as kusto:
        config = {"cluster": kusto.url, "database": "telemetry", "auth": "none"}
        ...
        assert kusto.queries[-1].parameters == {...}

Fixtures: ``pytest_plugins = ["meshinsights_connector_adx.testing.fixtures"]``
gives ``kusto_server`` (an empty, started server) and ``adx_config``.
"""

from __future__ import annotations

from meshinsights_connector_adx.testing.faults import Fault
from meshinsights_connector_adx.testing.kql import KqlError, declared_parameters, evaluate
from meshinsights_connector_adx.testing.server import (
    KustoTestServer,
    RecordedRequest,
    one_api_error,
)

__all__ = [
    "Fault",
    "KqlError",
    "KustoTestServer",
    "RecordedRequest",
    "declared_parameters",
    "evaluate",
    "one_api_error",
]

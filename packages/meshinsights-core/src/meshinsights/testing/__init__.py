"""Test kit for plugin authors: isolated plugin hosts and contract test suites.

In a plugin package's tests::

    from meshinsights.testing import ConnectorCase, ConnectorContract

    class TestMyConnector(ConnectorContract):
        connector_name = "mine"

        @pytest.fixture
        def connector_config(self): ...

        @pytest.fixture
        def connector_case(self): ...

Fixtures (``plugin_host``) come with ``pytest_plugins = ["meshinsights.testing.fixtures"]``.
"""

from __future__ import annotations

from meshinsights.testing.connector_contract import (
    INJECTION_PAYLOADS,
    ConnectorCase,
    ConnectorContract,
)
from meshinsights.testing.hosts import isolated_host
from meshinsights.testing.processor_contract import ProcessorContract

__all__ = [
    "INJECTION_PAYLOADS",
    "ConnectorCase",
    "ConnectorContract",
    "ProcessorContract",
    "isolated_host",
]

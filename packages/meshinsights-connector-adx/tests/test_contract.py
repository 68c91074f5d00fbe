"""The connector contract of meshinsights.testing, against the local Kusto endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from meshinsights.testing import ConnectorCase, ConnectorContract
from meshinsights_connector_adx.testing import KustoTestServer

from .conftest import T0


class TestADXContract(ConnectorContract):
    connector_name = "adx"

    @pytest.fixture
    def connector_config(self, config: dict[str, Any]) -> dict[str, Any]:
        # A secret rides along (unused with auth "none") so the leak checks have one to find.
        return {**config, "client_secret": "contract-secret-4f9a"}

    @pytest.fixture
    def other_connector_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "tenant_id": "other-tenant", "client_secret": "other-secret-77b1"}

    @pytest.fixture
    def connector_case(self, kusto: KustoTestServer) -> ConnectorCase:
        query = "Power | where device_id == device and timestamp >= t0 | order by timestamp asc"
        return ConnectorCase(
            query=query,
            parameters={"device": "d2", "t0": T0},
            expected_rows=20,
            expected_columns=["device_id", "timestamp", "power_w", "stage"],
            with_value=lambda payload: {"device": payload, "t0": T0},
        )

    def test_injection_payloads_travelled_as_parameters(
        self, connector: Any, connector_case: ConnectorCase, kusto: KustoTestServer
    ) -> None:
        """Beyond the contract: each payload reached the server as a parameter, not as text."""
        from meshinsights.testing import INJECTION_PAYLOADS

        for payload in INJECTION_PAYLOADS:
            connector.execute_query(connector_case.query, connector_case.with_value(payload))
            sent = kusto.queries[-1]
            assert sent.parameters["device"] == payload
            assert payload not in sent.query
            assert sent.declared == {"device": "string", "t0": "datetime"}

"""The connector contract of meshinsights.testing, against the local SiteSage server."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from meshinsights.connectors import DBConnector
from meshinsights.errors import ConnectorError
from meshinsights.testing import INJECTION_PAYLOADS, ConnectorCase, ConnectorContract
from meshinsights_connector_sitesage import POWER_ENDPOINT
from meshinsights_connector_sitesage.testing import SiteSageTestServer

from .conftest import T0


class TestSiteSageContract(ConnectorContract):
    connector_name = "sitesage"

    @pytest.fixture
    def connector_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return config

    @pytest.fixture
    def other_connector_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "token": "another-tenant-token"}

    @pytest.fixture
    def connector_case(self, sitesage: SiteSageTestServer) -> ConnectorCase:
        window = {"start": T0, "end": T0 + pd.Timedelta(minutes=30)}
        return ConnectorCase(
            query=POWER_ENDPOINT,
            parameters={"location_id": "L1", "control_id": "c1", **window},
            expected_rows=30,
            expected_columns=["timestamp", "power_w", "stage"],
            with_value=lambda payload: {"location_id": "L1", "control_id": payload, **window},
        )

    @pytest.mark.parametrize("payload", INJECTION_PAYLOADS)
    def test_injection_payload_is_only_data(
        self, connector: DBConnector, connector_case: ConnectorCase, payload: str,
        sitesage: SiteSageTestServer,
    ) -> None:
        """Replaces the contract's version: a REST path parameter may also be refused.

        The contract demands an empty frame; a payload that would leave its path
        segment (``../``, ``%2e%2e``, control characters) is instead refused
        before any request, with an error naming the parameter. Either way the
        server only ever sees the payload inside one quoted path segment.
        """
        leaves_its_segment = any(mark in payload for mark in ("/", "%", "?", "#", "\n"))
        connector.connect()
        if leaves_its_segment:
            with pytest.raises(ConnectorError, match="path parameter 'control_id'"):
                connector.execute_query(connector_case.query, connector_case.with_value(payload))
            assert sitesage.requests == []
            return
        with pytest.raises(ConnectorError, match="404") as caught:
            connector.execute_query(connector_case.query, connector_case.with_value(payload))
        assert repr(payload) in str(caught.value)
        assert [r.segments for r in sitesage.requests] == [
            ("v1", "locations", "L1", "controls", payload, "power")
        ]

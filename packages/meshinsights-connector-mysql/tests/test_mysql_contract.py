"""The mysql connector passes the connector contract of meshinsights.testing."""

from __future__ import annotations

from typing import Any

import pytest

from meshinsights.testing import ConnectorCase, ConnectorContract


class TestMySQLConnectorContract(ConnectorContract):
    connector_name = "mysql"

    @pytest.fixture
    def connector_config(self, mysql_config: dict[str, Any]) -> dict[str, Any]:
        return mysql_config

    @pytest.fixture
    def other_connector_config(self, other_mysql_config: dict[str, Any]) -> dict[str, Any]:
        return other_mysql_config

    @pytest.fixture
    def connector_case(self, dataset: dict[str, Any]) -> ConnectorCase:
        return ConnectorCase(
            query="SELECT * FROM power WHERE device_id = %(device_id)s AND ts >= %(t0)s",
            parameters={"device_id": "dev-01", "t0": "2024-01-01 12:00:00"},
            expected_rows=dataset["hours"] - 12,
            expected_columns=["device_id", "ts", "power_kw", "site"],
            with_value=lambda v: {"device_id": v, "t0": "2024-01-01 12:00:00"},
        )

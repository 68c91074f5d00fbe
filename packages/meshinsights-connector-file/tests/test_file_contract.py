"""The file connector passes the connector contract of meshinsights.testing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshinsights.testing import ConnectorCase, ConnectorContract


class TestFileConnectorContract(ConnectorContract):
    connector_name = "file"

    @pytest.fixture
    def connector_config(self, file_config: dict[str, Any]) -> dict[str, Any]:
        return file_config

    @pytest.fixture
    def other_connector_config(self, data_root: Path) -> dict[str, Any]:
        return {"root": str(data_root / "power"), "tables": {"power": "*.parquet"}}

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return ConnectorCase(
            query="SELECT * FROM power WHERE device_id = $device_id AND timestamp >= $t0",
            parameters={"device_id": "dev-01", "t0": "2024-01-02T00:00:00Z"},
            expected_rows=24,
            expected_columns=["device_id", "timestamp", "power_kw", "site"],
            with_value=lambda v: {"device_id": v, "t0": "2024-01-02T00:00:00Z"},
        )

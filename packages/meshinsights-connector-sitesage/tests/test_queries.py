"""What goes over the wire and what comes back, through requests against the local server."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from meshinsights.errors import ConnectorError
from meshinsights_connector_sitesage import CONTROLS_ENDPOINT, POWER_ENDPOINT, SiteSageConnector
from meshinsights_connector_sitesage.testing import SiteSageTestServer

from .conftest import T0, TOKEN, readings

WINDOW = {"start": T0, "end": T0 + pd.Timedelta(hours=1)}


def test_pages_are_followed_and_typed(sitesage: SiteSageTestServer, config: dict[str, Any]) -> None:
    frame = SiteSageConnector(**config).execute_query(
        POWER_ENDPOINT, {"location_id": "L1", "control_id": "c1", **WINDOW}
    )
    expected = readings(45)
    assert len(frame) == 45
    assert frame["timestamp"].dtype == "datetime64[ns, UTC]"
    assert frame["power_w"].dtype == "float64"
    assert pd.api.types.is_string_dtype(frame["stage"])
    pd.testing.assert_series_equal(frame["timestamp"], expected["timestamp"].astype(
        "datetime64[ns, UTC]"))
    np.testing.assert_array_equal(frame["power_w"], expected["power_w"])
    assert frame["stage"].tolist() == expected["stage"].tolist()

    sent = sitesage.requests
    assert [r.query.get("page_token") for r in sent] == [None, "o20", "o40"]
    assert {r.query["page_size"] for r in sent} == {"20"}
    assert sent[0].query["start"] == "2024-01-01T00:00:00Z"
    assert sent[0].query["end"] == "2024-01-01T01:00:00Z"
    assert all(r.authorization == f"Bearer {TOKEN}" for r in sent)
    assert sent[0].raw_path.startswith("/v1/locations/L1/controls/c1/power?")


def test_path_parameters_are_quoted_into_one_segment(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    frame = SiteSageConnector(**config).execute_query(
        POWER_ENDPOINT, {"location_id": "L1", "control_id": "c 2", **WINDOW}
    )
    assert frame["power_w"].tolist() == [1000.0, 1002.5, 1005.0, 1007.5, 1010.0]
    assert sitesage.requests[-1].raw_path.startswith("/v1/locations/L1/controls/c%202/power?")


def test_time_window_is_a_query_parameter(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    window = {"start": T0 + pd.Timedelta(minutes=10), "end": T0 + pd.Timedelta(minutes=13)}
    frame = SiteSageConnector(**config).execute_query(
        POWER_ENDPOINT, {"location_id": "L1", "control_id": "c1", **window}
    )
    assert frame["timestamp"].tolist() == list(
        T0 + pd.to_timedelta([10, 11, 12], unit="min")
    )
    assert sitesage.requests[-1].query["start"] == "2024-01-01T00:10:00Z"


def test_empty_result_has_typed_columns(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    frame = SiteSageConnector(**config).execute_query(
        POWER_ENDPOINT, {"location_id": "L1", "control_id": "c1", "start": T0, "end": T0}
    )
    assert len(frame) == 0
    assert dict(frame.dtypes.astype(str)) == {
        "timestamp": "datetime64[ns, UTC]", "power_w": "float64", "stage": "str"
    }


def test_controls_of_a_location(sitesage: SiteSageTestServer, config: dict[str, Any]) -> None:
    connector = SiteSageConnector(**config)
    controls = connector.list_controls("L1")
    assert controls["id"].tolist() == ["c 2", "c1"]
    assert list(controls.columns) == ["id", "name", "equipment_type"]
    assert sitesage.requests[-1].segments == ("v1", "locations", "L1", "controls")
    frame = connector.execute_query(CONTROLS_ENDPOINT, {"location_id": "L1"})
    assert frame.equals(controls)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("../c1", "path separator"),
        ("..", "relative path segment"),
        ("c1?x=1", "'?' or '#'"),
        ("c1#frag", "'?' or '#'"),
        ("c1/..", "path separator"),
        ("%2e%2e", "contains '%'"),
        ("%2E%2E%2F", "contains '%'"),
        ("c1\r\nX-Evil: 1", "control character"),
        ("", "is empty"),
        (None, "string or an integer"),
    ],
)
def test_bad_path_parameters_are_refused_before_sending(
    sitesage: SiteSageTestServer, config: dict[str, Any], value: Any, fragment: str
) -> None:
    with pytest.raises(ConnectorError, match=fragment) as caught:
        SiteSageConnector(**config).execute_query(
            POWER_ENDPOINT, {"location_id": "L1", "control_id": value, **WINDOW}
        )
    assert "'control_id'" in str(caught.value) and POWER_ENDPOINT in str(caught.value)
    assert sitesage.requests == []


@pytest.mark.parametrize(
    ("query", "parameters", "fragment"),
    [
        ("/v1/../admin", {}, "not a path template"),
        ("/v1/locations/{location_id}/controls?x=1", {"location_id": "L1"}, "not a path template"),
        ("https://elsewhere.example/v1", {}, "not a path template"),
        (POWER_ENDPOINT, {"location_id": "L1"}, "missing path parameter"),
        (POWER_ENDPOINT, {"location_id": "L1", "control_id": "c1", "page_token": "o20"},
         "managed by the connector"),
        (POWER_ENDPOINT, {"location_id": "L1", "control_id": "c1", "start": [1]},
         "query parameter 'start'"),
    ],
)
def test_bad_templates_and_parameters(
    sitesage: SiteSageTestServer, config: dict[str, Any], query: str, parameters: Any,
    fragment: str,
) -> None:
    with pytest.raises(ConnectorError, match=fragment):
        SiteSageConnector(**config).execute_query(query, parameters)
    assert sitesage.requests == []


def test_server_side_validation_error_is_reported(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    with pytest.raises(ConnectorError, match="HTTP 400") as caught:
        SiteSageConnector(**config).execute_query(
            POWER_ENDPOINT, {"location_id": "L1", "control_id": "c1"}
        )
    assert "start and end are required" in str(caught.value)
    assert caught.value.status == 400  # type: ignore[attr-defined]


def test_unknown_control_is_a_404_naming_the_endpoint(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    with pytest.raises(ConnectorError, match="404") as caught:
        SiteSageConnector(**config).execute_query(
            POWER_ENDPOINT, {"location_id": "L1", "control_id": "nope", **WINDOW}
        )
    assert POWER_ENDPOINT in str(caught.value)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"token": None}, "'token' is required"),
        ({"token": ""}, "'token' is required"),
        ({"base_url": "ftp://x"}, "http\\(s\\) URL"),
        ({"timeout": [1]}, "\\[connect, read\\]"),
        ({"timeout": -1}, "above 0"),
        ({"page_size": 0}, "above 0"),
        ({"page_size": 2.5}, "whole number"),
        ({"pagesize": 10}, "unknown key"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, Any], change: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConnectorError, match=fragment) as caught:
        SiteSageConnector(**{**config, **change})
    assert "sitesage connector config" in str(caught.value)


def test_timeout_forms(config: dict[str, Any]) -> None:
    assert SiteSageConnector(**{**config, "timeout": 7}).settings.timeout == (5.0, 7.0)
    assert SiteSageConnector(**{**config, "timeout": {"connect": 1, "read": 2}}).settings.timeout \
        == (1.0, 2.0)
    assert SiteSageConnector(**{k: v for k, v in config.items() if k != "timeout"}) \
        .settings.timeout == (5.0, 30.0)

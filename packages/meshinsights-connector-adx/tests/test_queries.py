"""What goes over the wire and what comes back, with the real KustoClient."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from meshinsights.errors import ConnectorError
from meshinsights_connector_adx import ADXConnector
from meshinsights_connector_adx.testing import KustoTestServer

from .conftest import T0, power_frame

QUERY = (
    "Power | where device_id in (devices) and timestamp >= t0 and timestamp < t1"
    " | project device_id, timestamp, power_w | order by timestamp asc"
)


def test_parameters_are_declared_and_sent_separately(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    connector = ADXConnector(**config)
    t1 = T0 + pd.Timedelta(minutes=5)
    frame = connector.execute_query(QUERY, {"devices": ["d1", "d3"], "t0": T0, "t1": t1})

    sent = kusto.queries[-1]
    assert sent.database == "telemetry"
    assert sent.query == (
        "declare query_parameters(devices:dynamic, t0:datetime, t1:datetime);\n" + QUERY
    )
    assert sent.declared == {"devices": "dynamic", "t0": "datetime", "t1": "datetime"}
    assert sent.parameters == {
        "devices": '["d1", "d3"]',
        "t0": "2024-01-01T00:00:00.0000000Z",
        "t1": "2024-01-01T00:05:00.0000000Z",
    }
    assert "Authorization" not in sent.headers
    assert sent.headers["x-ms-client-request-id"].startswith("KPC.execute;")

    source = power_frame()
    expected = source[
        source.device_id.isin(["d1", "d3"]) & (source.timestamp >= T0) & (source.timestamp < t1)
    ].sort_values("timestamp", kind="stable")
    assert list(frame.columns) == ["device_id", "timestamp", "power_w"]
    assert frame["device_id"].tolist() == expected["device_id"].tolist()
    pd.testing.assert_series_equal(
        frame["timestamp"], expected["timestamp"].reset_index(drop=True), check_names=True
    )
    np.testing.assert_array_equal(frame["power_w"].to_numpy(), expected["power_w"].to_numpy())


def test_scalar_types_are_declared_from_python_values(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    connector = ADXConnector(**config)
    frame = connector.execute_query(
        "Power | where power_w >= low and device_id != skip | take n",
        {"low": 100.0, "skip": "d3", "n": 3},
    )
    sent = kusto.queries[-1]
    assert sent.declared == {"low": "real", "skip": "string", "n": "long"}
    assert sent.parameters == {"low": "100.0", "skip": "d3", "n": "3"}
    assert len(frame) == 3
    assert (frame["power_w"] >= 100.0).all()


def test_response_types_nulls_and_precision(config: dict[str, Any]) -> None:
    t = pd.Timestamp("2024-03-01T12:00:00.1234567Z")
    source = pd.DataFrame({
        "ts": [t, pd.NaT, t + pd.Timedelta(days=1)],
        "span": pd.to_timedelta(["1 days 02:03:04.5678901", "-00:00:01.5", None]),
        "n": pd.array([1, None, -7], dtype="Int64"),
        "x": [1.25, np.nan, -3.0],
        "ok": pd.array([True, None, False], dtype="boolean"),
        "name": ["a", None, "c"],
        "tags": [{"zone": "north", "floors": [1, 2]}, None, ["x", 1]],
    })
    with KustoTestServer({"T": source}, database="telemetry") as server:
        connector = ADXConnector(**{**config, "cluster": server.url})
        frame = connector.execute_query("T")
        assert server.queries[-1].parameters == {}

    assert frame["ts"].dtype == "datetime64[ns, UTC]"
    assert frame["ts"][0] == t and frame["ts"][0].nanosecond == 700
    assert pd.isna(frame["ts"][1])
    assert frame["span"].dtype == "timedelta64[ns]"
    assert frame["span"][0] == pd.Timedelta("1 days 02:03:04.5678901")
    assert frame["span"][1] == -pd.Timedelta(seconds=1.5)
    assert pd.isna(frame["span"][2])
    assert frame["n"].dtype == "Int64" and frame["n"].isna().tolist() == [False, True, False]
    assert frame["n"][2] == -7
    assert frame["x"].dtype == "float64" and np.isnan(frame["x"][1])
    assert frame["ok"].dtype == "boolean" and frame["ok"].isna()[1] and not frame["ok"][2]
    assert pd.api.types.is_string_dtype(frame["name"]) and pd.isna(frame["name"][1])
    assert frame["tags"].dtype == object
    assert frame["tags"][0] == {"zone": "north", "floors": [1, 2]}
    assert frame["tags"][2] == ["x", 1] and frame["tags"][1] is None


def test_timespan_as_integer_ticks(config: dict[str, Any]) -> None:
    source = pd.DataFrame({"span": pd.to_timedelta(["00:00:01.0000001", "-2 days", None])})
    with KustoTestServer({"T": source}, database="telemetry", timespan_ticks=True) as server:
        frame = ADXConnector(**{**config, "cluster": server.url}).execute_query("T")
    assert frame["span"].tolist()[:2] == [pd.Timedelta("00:00:01.0000001"), pd.Timedelta("-2 days")]
    assert pd.isna(frame["span"][2])


def test_empty_result_keeps_columns_and_types(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    frame = ADXConnector(**config).execute_query(
        "Power | where device_id == d", {"d": "no-such-device"}
    )
    assert len(frame) == 0
    assert list(frame.columns) == ["device_id", "timestamp", "power_w", "stage"]
    assert frame["timestamp"].dtype == "datetime64[ns, UTC]"
    assert frame["power_w"].dtype == "float64"


def test_timedelta_bool_guid_and_dynamic_dict_parameters(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    import uuid

    connector = ADXConnector(**config)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    connector.execute_query(
        "Power | where device_id == d | take 1",
        {"d": "d1", "span": timedelta(hours=-26, microseconds=5), "flag": True, "id": ident,
         "opts": {"a": [1, 2]}},
    )
    sent = kusto.queries[-1]
    assert sent.declared == {
        "d": "string", "span": "timespan", "flag": "bool", "id": "guid", "opts": "dynamic"
    }
    assert sent.parameters["span"] == "-1.01:59:59.9999950"
    assert sent.parameters["flag"] == "true"
    assert sent.parameters["id"] == str(ident)
    assert json.loads(sent.parameters["opts"]) == {"a": [1, 2]}


def test_own_declaration_is_kept(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    query = "declare query_parameters(d:string);\nPower | where device_id == d | count"
    frame = ADXConnector(**config).execute_query(query, {"d": "d2"})
    assert kusto.queries[-1].query == query
    assert frame["Count"].tolist() == [20]


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"bad name": 1}, "not a KQL identifier"),
        ({"d": None}, "'d' is null"),
        ({"d": object()}, "unsupported type object"),
        (["d1"], "must be a mapping"),
    ],
)
def test_bad_parameters_are_refused_before_sending(
    kusto: KustoTestServer, config: dict[str, Any], parameters: Any, fragment: str
) -> None:
    with pytest.raises(ConnectorError, match=fragment):
        ADXConnector(**config).execute_query("Power", parameters)
    assert kusto.requests == []


def test_server_timeout_option_goes_over_the_wire(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    connector = ADXConnector(**{**config, "server_timeout": 90})
    connector.execute_query("Power | take 1")
    assert kusto.queries[-1].options == {"servertimeout": "0:01:30"}
    assert connector.get_metadata()["server_timeout"] == 90.0


def test_management_command_and_validate_connection(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    connector = ADXConnector(**config)
    assert connector.validate_connection() is True
    assert kusto.requests[-1].path == "/v1/rest/mgmt"
    assert kusto.requests[-1].query == ".show version"
    assert connector.execute_command(".show tables")["TableName"].tolist() == ["Power"]


def test_let_bindings_and_bracketed_names(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    """The test endpoint reads `let x = param;` and `['column']`, as data sources write KQL."""
    connector = ADXConnector(**config)
    query = (
        "let _devices = devices;\nlet _t0 = t0;\n['Power']\n"
        "| where ['device_id'] in (_devices) and ['timestamp'] >= _t0\n"
        "| project ['device_id'], ['power_w']\n| order by ['device_id'] asc"
    )
    frame = connector.execute_query(query, {"devices": ["d2"], "t0": T0})
    source = power_frame()
    assert frame["device_id"].tolist() == source.loc[source.device_id == "d2", "device_id"].tolist()
    assert len(frame) > 0
    nothing = connector.execute_query(query, {"devices": ["' or 1==1 //"], "t0": T0})
    assert len(nothing) == 0
    with pytest.raises(ConnectorError, match="Failed to resolve scalar expression named 'nope'"):
        connector.execute_query("let _x = nope;\nPower | take 1")

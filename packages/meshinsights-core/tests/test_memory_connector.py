"""The built-in memory connector: a plugin like any other, queried by table name and filters."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from meshinsights import ConnectorError, PluginManager
from meshinsights.plugins import PluginHost

T0 = datetime(2025, 2, 5, tzinfo=timezone.utc)


@pytest.fixture
def telemetry(host: PluginHost) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device_id": ["a", "a", "b", "c", "a"],
            "timestamp": pd.date_range(T0, periods=5, freq="h"),
            "power_kw": [1.0, None, 3.0, 4.0, 5.0],
        }
    )


def query(telemetry: pd.DataFrame, parameters: object = None) -> pd.DataFrame:
    connector = PluginManager.get_plugin("memory", tables={"telemetry": telemetry})
    with connector:
        return connector.execute_query("telemetry", parameters)  # type: ignore[arg-type]


def test_it_is_registered_through_the_plugin_host(host: PluginHost) -> None:
    assert "memory" in PluginManager.list_plugins()
    assert host.records["memory"].source == "builtin"


@pytest.mark.parametrize(
    ("parameters", "expected_rows"),
    [
        ({"device_id": "a"}, [0, 1, 4]),
        ({"device_id": ["b", "c"]}, [2, 3]),
        ({"device_id__in": ("c",)}, [3]),
        ({"device_id__ne": "a"}, [2, 3]),
        ({"timestamp__ge": pd.Timestamp(T0) + pd.Timedelta(hours=1),
          "timestamp__lt": pd.Timestamp(T0) + pd.Timedelta(hours=3)}, [1, 2]),
        ({"power_kw__gt": 2.0, "device_id": "a"}, [4]),
        ({"power_kw__le": 3.0}, [0, 2]),  # a missing value matches no comparison
        ({"device_id__eq": "zz"}, []),
    ],
)
def test_filters(telemetry: pd.DataFrame, parameters: dict[str, object], expected_rows: list[int]) -> None:
    out = query(telemetry, parameters)
    expected = telemetry.iloc[expected_rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(out, expected)


def test_no_parameters_serves_the_table_without_exposing_it(telemetry: pd.DataFrame) -> None:
    out = query(telemetry)
    pd.testing.assert_frame_equal(out, telemetry)
    out.loc[0, "power_kw"] = -99.0
    assert telemetry.loc[0, "power_kw"] == 1.0


@pytest.mark.parametrize(
    ("table", "parameters", "message"),
    [
        ("weather", None, "no table 'weather' (tables: telemetry)"),
        ("telemetry", {"site": "x"}, "table 'telemetry' has no column 'site'"),
        ("telemetry", {"power_kw__between": 1}, "unknown operator 'between' in 'power_kw__between'"),
        ("telemetry", ["a"], "parameters must be a mapping of column filters"),
    ],
)
def test_bad_queries_name_the_problem(
    telemetry: pd.DataFrame, table: str, parameters: object, message: str
) -> None:
    connector = PluginManager.get_plugin("memory", tables={"telemetry": telemetry})
    with pytest.raises(ConnectorError) as raised:
        connector.execute_query(table, parameters)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_tables_must_be_frames(host: PluginHost) -> None:
    with pytest.raises(ConnectorError, match="table 'raw' is a list, not a DataFrame"):
        PluginManager.get_plugin("memory", tables={"raw": [1, 2]})

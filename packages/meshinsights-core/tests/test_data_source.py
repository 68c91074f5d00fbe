"""DataSource: lazy pooled connector, parameters kept apart from the query, redacted metadata."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from meshinsights import DataSource, PluginError, PluginManager
from meshinsights.plugins import PluginHost

SECRET = "hunter2-Very-Secret"


class ReadingsSource(DataSource):
    def __init__(self, device_id: str, tables: dict[str, pd.DataFrame], **config: Any) -> None:
        super().__init__("readings", "memory", {"tables": tables, **config})
        self.device_id = device_id

    def build_query(self) -> str:
        return "readings"

    def build_parameters(self) -> dict[str, Any]:
        return {"device_id": self.device_id}


@pytest.fixture
def tables(host: PluginHost) -> dict[str, pd.DataFrame]:
    return {"readings": pd.DataFrame({"device_id": ["a", "b", "a"], "kw": [1.0, 2.0, 3.0]})}


def test_plugin_is_looked_up_lazily_and_pooled(tables: dict[str, pd.DataFrame]) -> None:
    first = ReadingsSource("a", tables, password=SECRET)
    second = ReadingsSource("b", tables, password=SECRET)
    assert PluginManager.active_connections() == []  # building a source connects nothing
    assert first.plugin is second.plugin  # one pooled connector per equal config
    assert len(PluginManager.active_connections()) == 1
    other_tenant = ReadingsSource("a", tables, password=SECRET, tenant="t2")
    assert other_tenant.plugin is not first.plugin


def test_fetch_sends_the_values_as_parameters(tables: dict[str, pd.DataFrame]) -> None:
    frame = ReadingsSource("a", tables).fetch()
    assert frame["kw"].tolist() == [1.0, 3.0]
    assert ReadingsSource("zz", tables).fetch().empty


def test_metadata_and_repr_hide_secrets(tables: dict[str, pd.DataFrame]) -> None:
    source = ReadingsSource("a", tables, password=SECRET, api_key=SECRET, host="db.local")
    metadata = source.get_metadata()
    assert metadata["name"] == "readings"
    assert metadata["source"] == "ReadingsSource"
    assert metadata["plugin"] == "memory"
    assert metadata["config"]["password"] == metadata["config"]["api_key"] == "***"
    assert metadata["config"]["host"] == "db.local"
    assert metadata["config"]["tables"] == {"readings": "<DataFrame>"}
    assert SECRET not in str(metadata) and SECRET not in repr(source)
    assert SECRET not in repr(source.plugin)


def test_validate_connection_answers_yes_or_no(tables: dict[str, pd.DataFrame]) -> None:
    assert ReadingsSource("a", tables).validate_connection() is True

    class Nowhere(ReadingsSource):
        def __init__(self) -> None:
            DataSource.__init__(self, "x", "no-such-connector", {"password": SECRET})

    assert Nowhere().validate_connection() is False
    with pytest.raises(PluginError, match="no connector named 'no-such-connector'") as raised:
        Nowhere().fetch()
    assert SECRET not in str(raised.value)

"""Entry-point discovery and a run config fetching rows end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from meshinsights.config import load_run_config
from meshinsights.connectors import PluginManager
from meshinsights.plugins import PluginHost
from meshinsights.testing import isolated_host
from meshinsights_connector_adx import ADXConnector
from meshinsights_connector_adx.testing import KustoTestServer


def test_found_through_its_entry_point(config: dict[str, Any]) -> None:
    with isolated_host(entry_points=True):
        connector = PluginManager.get_plugin("adx", **config)
        assert type(connector) is ADXConnector
        assert "adx" in PluginManager.list_plugins()


def test_plugin_module_does_not_import_the_kusto_client() -> None:
    code = (
        "import sys, meshinsights_connector_adx.plugin\n"
        "assert 'azure.kusto.data' not in sys.modules, 'imported at plugin load'\n"
        "assert 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_entry_point_record(config: dict[str, Any]) -> None:
    host = PluginHost(disabled=(), strict=False).load()
    record = host.records["adx"]
    assert record.ok and record.distribution == "meshinsights-connector-adx"


def test_run_config_fetches_rows(
    kusto: KustoTestServer, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ADX_TEST_SECRET", "from-env-secret-55")
    path = tmp_path / "run.toml"
    path.write_text(
        f"""
[pipeline]
solution = "any"

[connection]
plugin = "adx"
cluster = "{kusto.url}"
database = "telemetry"
auth = "none"
client_secret = "${{ADX_TEST_SECRET}}"
server_timeout = 60

[devices]
inline = [{{ device_id = "d1" }}]
""",
        encoding="utf-8",
    )
    run = load_run_config(path)
    assert run.connection_plugin == "adx"
    with isolated_host(entry_points=True):
        connector = PluginManager.get_plugin(run.connection_plugin, **run.connector_config)
        frame = connector.execute_query("Power | where device_id == d", {"d": "d1"})
        assert len(frame) == 20 and set(frame["device_id"]) == {"d1"}
        assert "from-env-secret-55" not in repr(connector)
    assert kusto.queries[-1].options == {"servertimeout": "0:01:00"}

"""Entry-point discovery, session pooling, a run config end to end, and no token anywhere."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from meshinsights.config import load_run_config
from meshinsights.connectors import PluginManager
from meshinsights.testing import isolated_host
from meshinsights_connector_sitesage import POWER_ENDPOINT, SiteSageConnector, SiteSageSessions
from meshinsights_connector_sitesage.testing import SiteSageTestServer

from .conftest import T0, TOKEN


def test_found_through_its_entry_point(config: dict[str, Any]) -> None:
    with isolated_host(entry_points=True):
        assert type(PluginManager.get_plugin("sitesage", **config)) is SiteSageConnector
        assert "sitesage" in PluginManager.list_plugins()


def test_plugin_module_is_cheap_to_import() -> None:
    code = (
        "import sys, meshinsights_connector_sitesage.plugin\n"
        "assert 'requests' not in sys.modules and 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sessions_pooled_per_config(config: dict[str, Any]) -> None:
    a = SiteSageConnector(**config).connect()[0]
    b = SiteSageConnector(**dict(config)).connect()[0]
    c = SiteSageConnector(**{**config, "token": "other-token"}).connect()[0]
    assert a is b and c is not a
    assert len(SiteSageSessions.keys()) == 2


def test_run_config_fetches_rows(
    sitesage: SiteSageTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITESAGE_TOKEN", TOKEN)
    path = tmp_path / "run.toml"
    path.write_text(
        f"""
[pipeline]
solution = "any"

[connection]
plugin = "sitesage"
base_url = "{sitesage.url}"
token = "${{SITESAGE_TOKEN}}"
timeout = 10
page_size = 7

[devices]
inline = [{{ device_id = "c1" }}]
""",
        encoding="utf-8",
    )
    run = load_run_config(path)
    with isolated_host(entry_points=True):
        connector = PluginManager.get_plugin(run.connection_plugin or "", **run.connector_config)
        frame = connector.execute_query(
            POWER_ENDPOINT,
            {"location_id": "L1", "control_id": "c1", "start": T0,
             "end": T0 + pd.Timedelta(minutes=15)},
        )
    assert len(frame) == 15
    assert [r.query.get("page_token") for r in sitesage.requests] == [None, "o7", "o14"]
    assert all(r.authorization == f"Bearer {TOKEN}" for r in sitesage.requests)


def test_no_token_in_logs_reprs_metadata_keys_or_errors(
    sitesage: SiteSageTestServer, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = PluginManager.get_plugin("sitesage", **config)
    params = {"location_id": "L1", "control_id": "c1", "start": T0,
              "end": T0 + pd.Timedelta(hours=1)}
    connector.execute_query(POWER_ENDPOINT, params)
    texts = [repr(connector), str(connector.get_metadata()), str(connector.safe_config),
             str(PluginManager.pool_key("sitesage", **config)),
             str(SiteSageSessions.pool_key(config)), str(SiteSageSessions.keys()),
             repr(connector.settings)]  # type: ignore[attr-defined]
    errors: list[str] = []
    for fault in ("malformed", "server_error"):
        sitesage.inject(fault, times=100)
        with pytest.raises(Exception) as caught:
            connector.execute_query(POWER_ENDPOINT, params)
        errors += [str(caught.value), repr(caught.value)]
        sitesage.clear_faults()
    wrong = "leaky-wrong-token-1"
    with pytest.raises(Exception) as unauthorized:
        SiteSageConnector(**{**config, "token": wrong}).execute_query(POWER_ENDPOINT, params)
    errors += [str(unauthorized.value), repr(unauthorized.value)]
    logs = [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    assert any("sitesage GET" in line for line in logs)
    shown = "\n".join(texts + errors + logs)
    assert TOKEN not in shown and wrong not in shown
    assert "Bearer" not in shown

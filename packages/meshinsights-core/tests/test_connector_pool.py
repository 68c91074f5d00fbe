"""PluginManager pooling per config, redaction, and the memory connector's contract."""

from __future__ import annotations

import logging
import threading
from datetime import date

import pandas as pd
import pytest

from meshinsights import PluginManager
from meshinsights.redaction import REDACTED, config_hash, redact
from meshinsights.testing import ConnectorCase, ConnectorContract, isolated_host

SECRET = "s3cr3t-Value-xyz"


@pytest.fixture(autouse=True)
def _isolated():
    with isolated_host() as host:
        yield host


def test_same_config_shares_an_instance_and_other_tenants_do_not() -> None:
    tables = {"t": pd.DataFrame({"a": [1]})}
    first = PluginManager.get_plugin("memory", tables=tables, tenant="A")
    assert PluginManager.get_plugin("memory", tenant="A", tables=tables) is first
    assert PluginManager.get_plugin("memory", tables=tables, tenant="B") is not first
    assert len(PluginManager.active_connections()) == 2
    PluginManager.cleanup()
    assert PluginManager.active_connections() == []
    assert PluginManager.get_plugin("memory", tables=tables, tenant="A") is not first


def test_pool_is_thread_safe() -> None:
    tables = {"t": pd.DataFrame({"a": [1]})}
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        seen.append(PluginManager.get_plugin("memory", tables=tables, password=SECRET))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in seen}) == 1


def test_config_hash_is_stable_and_hides_secrets() -> None:
    config = {"host": "db", "password": SECRET, "start": date(2025, 1, 1)}
    digest = config_hash(config)
    assert digest == config_hash(dict(reversed(list(config.items()))))
    assert digest != config_hash({**config, "password": SECRET + "!"})
    assert SECRET not in digest and len(digest) == 32
    assert SECRET not in str(PluginManager.pool_key("memory", **config))


def test_redact_masks_secret_keys_at_any_depth() -> None:
    shown = redact({
        "user": "svc", "password": SECRET, "client_secret": SECRET, "token": SECRET,
        "nested": {"api_key": SECRET, "port": 3306}, "frame": pd.DataFrame(), "empty_token": "",
    })
    assert shown == {
        "user": "svc", "password": REDACTED, "client_secret": REDACTED, "token": REDACTED,
        "nested": {"api_key": REDACTED, "port": 3306}, "frame": "<DataFrame>", "empty_token": "",
    }


def test_connector_repr_metadata_and_logs_hide_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    connector = PluginManager.get_plugin("memory", tables={}, password=SECRET)
    text = " ".join([repr(connector), str(connector.get_metadata()), caplog.text])
    assert SECRET not in text
    assert REDACTED in repr(connector)


class TestMemoryConnectorContract(ConnectorContract):
    connector_name = "memory"
    TABLE = pd.DataFrame({
        "device_id": ["d1", "d1", "d2", "d3"],
        "timestamp": pd.to_datetime(
            ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-03"], utc=True
        ),
        "power_kw": [1.0, 2.0, 3.0, 4.0],
    })

    @pytest.fixture
    def connector_config(self):
        return {"tables": {"power": self.TABLE}, "password": SECRET}

    @pytest.fixture
    def other_connector_config(self):
        return {"tables": {"power": self.TABLE}, "password": "another-tenant-secret"}

    @pytest.fixture
    def connector_case(self):
        return ConnectorCase(
            query="power",
            parameters={"device_id": "d1", "timestamp__lt": pd.Timestamp("2025-01-02", tz="UTC")},
            expected_rows=1,
            expected_columns=["device_id", "timestamp", "power_kw"],
            with_value=lambda value: {"device_id": value},
        )

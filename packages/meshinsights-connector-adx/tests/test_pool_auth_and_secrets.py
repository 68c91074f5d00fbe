"""Client pooling per config, auth modes, config errors, and no secret anywhere it shows."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from meshinsights.connectors import PluginManager
from meshinsights.errors import ConnectorError
from meshinsights_connector_adx import ADXConnectionManager, ADXConnector, ADXQueryError
from meshinsights_connector_adx.auth import build_kcsb
from meshinsights_connector_adx.settings import parse_settings
from meshinsights_connector_adx.testing import KustoTestServer

SECRET = "app-secret-Zq81x"
TENANT_A = {"tenant_id": "tenant-a", "client_id": "app-a", "client_secret": SECRET}


def test_equal_configs_share_a_client_and_tenants_do_not(config: dict[str, Any]) -> None:
    first = ADXConnector(**config)
    again = ADXConnector(**dict(config))
    other = ADXConnector(**{**config, "tenant_id": "tenant-b"})
    assert first.connect()[0] is again.connect()[0]
    assert other.connect()[0] is not first.connect()[0]
    assert len(ADXConnectionManager.keys()) == 2
    assert ADXConnectionManager.pool_key(config) != ADXConnectionManager.pool_key(
        {**config, "tenant_id": "tenant-b"}
    )


def test_client_shared_by_threads(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    connector = ADXConnector(**config)
    results: list[int] = []

    def work(device: str) -> None:
        results.append(len(connector.execute_query("Power | where device_id == d", {"d": device})))

    threads = [threading.Thread(target=work, args=(f"d{i % 3 + 1}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [20] * 12
    assert len(ADXConnectionManager.keys()) == 1


def test_closed_client_is_replaced(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    connector = ADXConnector(**config)
    client = connector.connect()[0]
    connector.close()
    assert connector.connect()[0] is not client
    assert len(connector.execute_query("Power | take 2")) == 2


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"cluster": None}, "'cluster' is required"),
        ({"cluster": "mycluster"}, "must be a URL"),
        ({"auth": "kerberos"}, "'auth' must be one of"),
        ({"auth": "app_key"}, "needs 'tenant_id', 'client_id', 'client_secret'"),
        ({"auth": "none", "cluster": "https://x.kusto.windows.net"}, "only for a local endpoint"),
        ({"server_timeout": 7200}, "at most 1 hour"),
        ({"retry_attempts": 0}, "at least 1"),
        ({"servertimeout": 5}, "unknown key"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, Any], change: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConnectorError, match=fragment):
        ADXConnector(**{**config, **change})


def test_auth_modes_build_the_matching_connection(config: dict[str, Any]) -> None:
    base = {"cluster": "https://c.westeurope.kusto.windows.net", "database": "db"}
    app = build_kcsb(parse_settings({**base, "auth": "app_key", **TENANT_A}))
    assert app.application_client_id == "app-a" and app.authority_id == "tenant-a"
    assert app.aad_federated_security
    msi = build_kcsb(parse_settings({**base, "auth": "managed_identity", "client_id": "mi"}))
    assert msi.msi_authentication and msi.msi_parameters.get("client_id") == "mi"
    cli = build_kcsb(parse_settings({**base, "auth": "az_cli"}))
    assert cli.az_cli_login
    default = build_kcsb(parse_settings({**base, "auth": "default"}))
    assert default.token_credential_login and default.azure_credential is not None
    none = build_kcsb(parse_settings({**config, "auth": "none"}))
    assert not none.aad_federated_security


class _StaticCredential:
    """A TokenCredential standing in for Azure AD (the network part we cannot reach)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.extend(scopes)
        return AccessToken(self.token, 4_102_444_800)

    def close(self) -> None:
        pass


def test_token_credential_sends_a_bearer_token(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    credential = _StaticCredential("aad-token-7Hq")
    connector = ADXConnector(**{**config, "auth": "default", "credential": credential})
    assert len(connector.execute_query("Power | take 3")) == 3
    assert kusto.queries[-1].headers["Authorization"] == "Bearer aad-token-7Hq"
    assert credential.scopes and credential.scopes[0].endswith("/.default")
    assert "aad-token-7Hq" not in repr(connector) + str(connector.get_metadata())


def test_no_secret_in_logs_reprs_metadata_keys_or_errors(
    kusto: KustoTestServer, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_config = {**config, "client_secret": SECRET, "tenant_id": "tenant-a"}
    parameter_value = "param-value-93kd"
    connector = PluginManager.get_plugin("adx", **secret_config)
    texts = [repr(connector), str(connector.get_metadata()), str(connector.safe_config),
             str(PluginManager.pool_key("adx", **secret_config)),
             str(ADXConnectionManager.pool_key(secret_config)), str(ADXConnectionManager.keys()),
             repr(getattr(connector, "settings", None))]
    connector.execute_query("Power | where device_id == d", {"d": parameter_value})
    kusto.inject("unavailable", times=10)
    with pytest.raises(ADXQueryError) as transient:
        connector.execute_query("Power | where device_id == d", {"d": parameter_value})
    kusto.clear_faults()
    with pytest.raises(ADXQueryError) as permanent:
        connector.execute_query("Power | where missing == d", {"d": parameter_value})
    with pytest.raises(ConnectorError) as config_error:
        ADXConnector(**{**secret_config, "auth": "app_key", "client_id": None})
    errors = [str(transient.value), repr(transient.value), str(permanent.value),
              str(config_error.value)]
    logs = [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    assert len(caplog.records) > 3
    assert any("transient ServiceUnavailable" in line for line in logs)
    assert SECRET not in "\n".join(texts + errors + logs)
    assert parameter_value not in "\n".join(errors + logs)

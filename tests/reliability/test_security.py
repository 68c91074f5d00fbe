"""Security: injection payloads stay data on every connector, secrets never show, tenants never mix.

Injection goes through the HVAC data source (PowerDataRetrieval) and the
real connectors against real servers; each test asserts what reached the
server: the Kusto endpoint's and the SiteSage server's recorded requests, the
MariaDB general log, and DuckDB and the memory connector by their results.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pymysql
import pytest
from reliability_support import MYSQL_USER, cli, mysql_connection, sitesage_power, write_config

import meshinsights_connector_adx.plugin as adx_plugin
import meshinsights_connector_file.plugin as file_plugin
import meshinsights_connector_mysql.plugin as mysql_plugin
import meshinsights_connector_sitesage.plugin as sitesage_plugin
import meshinsights_hvac.plugin as hvac_plugin
from meshinsights import DeviceUnit, PluginManager
from meshinsights.errors import ConnectorError, MeshInsightsError
from meshinsights.testing import INJECTION_PAYLOADS, isolated_host
from meshinsights_connector_adx import ADXConnector
from meshinsights_connector_adx.pool import ADXConnectionManager
from meshinsights_connector_adx.testing import KustoTestServer
from meshinsights_connector_mysql.pool import MySQLConnectionManager
from meshinsights_connector_mysql.testing import MariaDBServer
from meshinsights_connector_sitesage.sessions import SiteSageSessions
from meshinsights_connector_sitesage.testing import SiteSageTestServer
from meshinsights_hvac.data_sources import PowerDataRetrieval, device_window
from meshinsights_hvac.factories import create_hvac_data_sources

PAYLOADS = (*INJECTION_PAYLOADS, '"; drop table power; --', "..", "%2e%2e%2f", "x\r\nHost: evil",
            "11688' --", "11688\n| take 1000000", "2916276%00")
START, END = device_window("2025-02-05", "2025-02-06")
CONNECTORS = ("memory", "file", "mysql", "adx", "sitesage")


@pytest.fixture(scope="module")
def real_ids(fleet_power: pd.DataFrame) -> tuple[str, str]:
    first = fleet_power.iloc[0]
    return str(first["location_id"]), str(first["control_id"])


@pytest.fixture(scope="module")
def servers(
    fleet_power: pd.DataFrame, mariadb_fleet: MariaDBServer
) -> Iterator[dict[str, Any]]:
    with KustoTestServer({"power": fleet_power}, database="telemetry") as kusto, \
            SiteSageTestServer(sitesage_power(fleet_power), token="tk-inj-7788") as sitesage:
        yield {"kusto": kusto, "sitesage": sitesage, "mariadb": mariadb_fleet}


def _connection(plugin: str, servers: dict[str, Any], fleet_dir: Path,
                fleet_power: pd.DataFrame) -> dict[str, Any]:
    if plugin == "memory":
        return {"plugin": "memory", "tables": {"power": fleet_power}}
    if plugin == "file":
        return {"plugin": "file", "root": str(fleet_dir), "tables": {"power": "power/*.parquet"}}
    if plugin == "mysql":
        db = servers["mariadb"]
        return {**mysql_connection(db.host, db.port), "password": "Rel-Analyst-5f0c2e"}
    if plugin == "adx":
        return {"plugin": "adx", "cluster": servers["kusto"].url, "database": "telemetry",
                "auth": "none", "retry_attempts": 1}
    return {"plugin": "sitesage", "base_url": servers["sitesage"].url, "token": "tk-inj-7788",
            "retries": 0}


def _general_log(db: MariaDBServer) -> list[str]:
    connection = db.root_connection("mysql")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log "
                           "WHERE command_type = 'Query'")
            return [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()


@pytest.mark.parametrize("plugin", CONNECTORS)
def test_injection_payloads_select_only_that_device_or_nothing(
    plugin: str, servers: dict[str, Any], fleet_dir: Path, fleet_power: pd.DataFrame,
    real_ids: tuple[str, str],
) -> None:
    location, control = real_ids
    connection = _connection(plugin, servers, fleet_dir, fleet_power)
    kusto, sitesage, db = servers["kusto"], servers["sitesage"], servers["mariadb"]
    kusto.clear_requests()
    sitesage.clear_requests()
    sitesage.token = "tk-inj-7788"
    if plugin == "mysql":
        db.execute("SET GLOBAL log_output = 'TABLE'", "SET GLOBAL general_log = 1",
                   "TRUNCATE TABLE mysql.general_log")
    expected_rows = int(((fleet_power["location_id"] == location)
                         & (fleet_power["control_id"] == control)).sum())
    refused: list[str] = []
    with isolated_host(hvac_plugin, file_plugin, mysql_plugin, adx_plugin, sitesage_plugin):
        honest = PowerDataRetrieval(location, control, START, END, connection).fetch()
        assert len(honest) == expected_rows > 0
        if "control_id" in honest.columns:
            assert set(honest["control_id"].astype(str)) == {control}
        for payload in PAYLOADS:
            for as_location in (True, False):
                source = PowerDataRetrieval(payload if as_location else location,
                                            control if as_location else payload,
                                            START, END, connection)
                try:
                    frame = source.fetch()
                except ConnectorError as exc:
                    # REST: a value that would change the path is refused before sending;
                    # any other value is one path segment the server does not know (404).
                    assert plugin == "sitesage", f"{plugin} refused {payload!r}: {exc}"  # noqa: PT017
                    role = "location_id" if as_location else "control_id"
                    if f"path parameter {role!r}" in str(exc):
                        refused.append(payload)
                    else:
                        assert "not found (404): no resource for" in str(exc), exc  # noqa: PT017
                    continue
                assert len(frame) == 0, f"{plugin}: payload {payload!r} selected {len(frame)} rows"
    if plugin == "mysql":
        db.execute("SET GLOBAL general_log = 0")
        _check_mysql_log(db, connection, location, control)
    if plugin == "adx":
        _check_kusto_requests(kusto.queries)
    if plugin == "sitesage":
        _check_sitesage_requests(sitesage.requests, refused, (location, control))


def _check_mysql_log(db: MariaDBServer, connection: dict[str, Any], location: str,
                     control: str) -> None:
    """Each payload reached MariaDB once, as one escaped string literal of the statement."""
    logged = [q for q in _general_log(db) if q.startswith("SELECT `location_id`")]
    probe = pymysql.connect(host=db.host, port=db.port, user=MYSQL_USER,
                            password=connection["password"], database="telemetry",
                            charset="utf8mb4")
    try:
        with probe.cursor() as cursor:
            expected = [
                cursor.mogrify(source.build_query(), source.build_parameters())
                for payload in PAYLOADS for source in (
                    PowerDataRetrieval(payload, control, START, END, connection),
                    PowerDataRetrieval(location, payload, START, END, connection))
            ]
    finally:
        probe.close()
    for statement in expected:
        assert logged.count(statement) == 1, f"not sent exactly as escaped: {statement!r}"
    assert len(logged) == len(expected) + 1  # and the honest query


def _check_kusto_requests(queries: list[Any]) -> None:
    """One query per payload; the KQL text is always the same, the payload only a parameter."""
    texts = {q.query for q in queries}
    assert len(texts) == 1
    assert len(queries) == 2 * len(PAYLOADS) + 1
    sent = [q.parameters for q in queries[1:]]
    for payload in PAYLOADS:
        assert any(p["location_id"] == payload for p in sent)
        assert any(p["control_id"] == payload for p in sent)
        assert payload not in next(iter(texts))


def _check_sitesage_requests(requests: list[Any], refused: list[str], honest: tuple[str, str]) -> None:
    """Payloads that could change the path were refused before sending; the rest arrived
    as exactly one path segment each, and asked for nothing but that resource."""
    sent = [r for r in requests if (r.segments[2], r.segments[4]) != honest]
    for request in sent:
        assert len(request.segments) == 6 and request.segments[:2] == ("v1", "locations")
        assert request.status == 404
    reached = {s for r in sent for s in (r.segments[2], r.segments[4])}
    for payload in PAYLOADS:
        if payload in refused:
            assert payload not in reached
        else:
            assert payload in reached
    assert {"../../etc/passwd", "%2e%2e/", "..", "a\nb"} <= set(refused)


def test_dates_carrying_payloads_are_refused_naming_the_device_and_key() -> None:
    for payload in ("' OR 1=1 --", "2025-02-05'; drop", "| take 1000000", "../2025-02-05"):
        device = DeviceUnit("d-date", {"location_id": "1", "control_id": "2",
                                       "start_date": payload, "end_date": "2025-02-06",
                                       "connection": {"plugin": "memory"}})
        with pytest.raises(ValueError, match=r"device 'd-date': start_date must be a date"):
            create_hvac_data_sources(device)


# -- secrets -------------------------------------------------------------------------------

SECRETS = {
    "REL_MYSQL_PASSWORD": "Rel-Analyst-5f0c2e",
    "REL_SITESAGE_TOKEN": "ssk_live_9QmZ4xTr82LpWv1nHk7d",
    "REL_ADX_CLIENT_SECRET": "Xq8~fK2.vLm9_pR4sT7wYz0Ab3Cd6Ef",
}


def _scan(texts: dict[str, str | bytes]) -> None:
    for where, text in texts.items():
        raw = text if isinstance(text, bytes) else text.encode()
        for name, secret in SECRETS.items():
            assert secret.encode() not in raw, f"{name} leaked into {where}"


def _output_files(out: Path) -> dict[str, str | bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("plugin", ["mysql", "sitesage"])
def test_secrets_never_leave_the_environment_in_a_debug_run(
    plugin: str, servers: dict[str, Any], fleet_dir: Path, tmp_path: Path
) -> None:
    devices = pd.read_csv(fleet_dir / "devices.csv", dtype=str).head(5)
    broken = {**devices.iloc[0].to_dict(), "device_id": "broken-1", "location_id": "404404"}
    pd.concat([devices, pd.DataFrame([broken])]).to_csv(tmp_path / "devices.csv", index=False)
    if plugin == "mysql":
        db = servers["mariadb"]
        connection = mysql_connection(db.host, db.port)
    else:
        connection = {"plugin": "sitesage", "base_url": servers["sitesage"].url,
                      "token": "${REL_SITESAGE_TOKEN}", "retries": 1}
        servers["sitesage"].token = SECRETS["REL_SITESAGE_TOKEN"]
    write_config(tmp_path, "run.toml", connection, formats=("csv", "parquet", "html", "jsonl"))
    env = dict(SECRETS)
    checked = cli("validate", "run.toml", cwd=tmp_path, env=env)
    result = cli("--log-level", "DEBUG", "run", "run.toml", cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert "DEBUG" in result.stderr, "the run must have logged at DEBUG"
    out = tmp_path / "out"
    files = _output_files(out)
    assert {"manifest.json", "report.html", "summary.csv", "summary.parquet", "devices.jsonl"} <= set(files)
    assert any(name.startswith("ledger/devices/") for name in files)
    _scan({"stdout": result.stdout, "stderr": result.stderr, "validate": checked.stdout + checked.stderr,
           **files})
    manifest = json.loads((out / "manifest.json").read_text())
    secret_key = "password" if plugin == "mysql" else "token"
    assert manifest["config"]["connection"][secret_key] == "***"
    if plugin == "sitesage":  # the failing device's error text is in the outputs, secret-free
        assert "broken-1" in result.stdout and "404" in result.stdout

    # A wrong secret fails with a clear error that does not echo what was sent.
    wrong = {**env, "REL_MYSQL_PASSWORD": "Wrong-" + SECRETS["REL_MYSQL_PASSWORD"],
             "REL_SITESAGE_TOKEN": "Wrong-" + SECRETS["REL_SITESAGE_TOKEN"]}
    refused = cli("--log-level", "DEBUG", "validate", "run.toml", cwd=tmp_path, env=wrong)
    assert refused.returncode == 2
    assert ("1045" in refused.stderr) if plugin == "mysql" else ("401" in refused.stderr)
    for secret in wrong.values():
        assert secret not in refused.stdout + refused.stderr


def test_secrets_stay_out_of_reprs_metadata_pool_keys_and_errors(
    servers: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    db, sitesage, kusto = servers["mariadb"], servers["sitesage"], servers["kusto"]
    sitesage.token = SECRETS["REL_SITESAGE_TOKEN"]
    configs = {
        "mysql": {**mysql_connection(db.host, db.port), "password": SECRETS["REL_MYSQL_PASSWORD"]},
        "sitesage": {"plugin": "sitesage", "base_url": sitesage.url,
                     "token": SECRETS["REL_SITESAGE_TOKEN"], "retries": 0},
        "adx": {"plugin": "adx", "cluster": "https://example.kusto.windows.net", "database": "t",
                "auth": "app_key", "tenant_id": "tenant-1", "client_id": "app-1",
                "client_secret": SECRETS["REL_ADX_CLIENT_SECRET"]},
    }
    texts: dict[str, str | bytes] = {}
    caplog.set_level(logging.DEBUG)
    with isolated_host(hvac_plugin, mysql_plugin, adx_plugin, sitesage_plugin):
        for name, config in configs.items():
            settings = {k: v for k, v in config.items() if k != "plugin"}
            connector = PluginManager.get_plugin(name, **settings)
            texts[f"{name} repr"] = repr(connector) + str(connector)
            texts[f"{name} settings repr"] = repr(getattr(connector, "settings", ""))
            texts[f"{name} metadata"] = json.dumps(connector.get_metadata(), default=str)
            texts[f"{name} safe_config"] = json.dumps(connector.safe_config, default=str)
            source = PowerDataRetrieval("11688", "2916276", START, END, config)
            texts[f"{name} source"] = repr(source) + json.dumps(source.get_metadata(), default=str)
            if name == "mysql":
                connector.validate_connection()
                texts["mysql pool"] = json.dumps([m.settings.pool_key for m in
                                                  MySQLConnectionManager.active()])
                texts["mysql managers"] = repr(MySQLConnectionManager.active())
            if name == "sitesage":
                connector.validate_connection()
                texts["sitesage pool"] = json.dumps(SiteSageSessions.keys())
        texts["pool keys"] = json.dumps(PluginManager.active_connections())
        texts["adx pool"] = json.dumps(ADXConnectionManager.keys())
        # Errors raised with a wrong secret, and a failing ADX token request.
        for name, config in configs.items():
            bad = {k: v for k, v in config.items() if k != "plugin"}
            secret_key = {"mysql": "password", "sitesage": "token", "adx": "client_secret"}[name]
            bad[secret_key] = bad[secret_key] + "-x"
            if name == "adx":
                bad.update(cluster=kusto.url.replace("http://", "https://"), retry_attempts=1)
            try:
                PluginManager.get_plugin(name, **bad).validate_connection()
            except (MeshInsightsError, Exception) as exc:  # noqa: BLE001 - its text is scanned
                texts[f"{name} error"] = f"{exc!r} {exc} {exc.__cause__!r} {exc.__context__!r}"
            else:
                raise AssertionError(f"{name}: a wrong secret was accepted")
    texts["log records"] = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}"
                                     for r in caplog.records)
    assert texts["mysql error"] and texts["sitesage error"] and texts["adx error"]
    _scan(texts)
    everything = "".join(str(t) for t in texts.values())
    assert not [s for s in SECRETS.values() if s + "-x" in everything], "a wrong secret was echoed"


# -- tenant isolation ----------------------------------------------------------------------

def test_tenants_never_share_a_pooled_client(servers: dict[str, Any]) -> None:
    db, sitesage = servers["mariadb"], servers["sitesage"]
    db.create_user("tenant_a", "Pw-Tenant-A-1", "telemetry")
    db.create_user("tenant_b", "Pw-Tenant-B-2", "telemetry")
    base = {"host": db.host, "port": db.port, "database": "telemetry"}
    with isolated_host(mysql_plugin, adx_plugin, sitesage_plugin):
        a = PluginManager.get_plugin("mysql", **base, user="tenant_a", password="Pw-Tenant-A-1")
        b = PluginManager.get_plugin("mysql", **base, user="tenant_b", password="Pw-Tenant-B-2")
        again = PluginManager.get_plugin("mysql", **base, user="tenant_a", password="Pw-Tenant-A-1")
        assert a is again and a is not b
        # Through the wire: the server says who each connection logged in as.
        who_a = a.execute_query("SELECT CURRENT_USER() AS u")["u"].iloc[0]
        who_b = b.execute_query("SELECT CURRENT_USER() AS u")["u"].iloc[0]
        assert (who_a.split("@")[0], who_b.split("@")[0]) == ("tenant_a", "tenant_b")
        assert a.manager is not b.manager  # type: ignore[attr-defined]
        # The same user with another password is another session, never the pooled one.
        c = PluginManager.get_plugin("mysql", **base, user="tenant_a", password="Pw-Wrong")
        assert c is not a
        with pytest.raises(ConnectorError, match="1045"):
            c.validate_connection()

        sitesage.token = "tk-tenant-a"
        s_a = PluginManager.get_plugin("sitesage", base_url=sitesage.url, token="tk-tenant-a")
        s_b = PluginManager.get_plugin("sitesage", base_url=sitesage.url, token="tk-tenant-b")
        assert s_a is not s_b
        sitesage.clear_requests()
        s_a.validate_connection()
        with pytest.raises(ConnectorError, match="401"):
            s_b.validate_connection()
        assert [r.authorization for r in sitesage.requests] == ["Bearer tk-tenant-a",
                                                               "Bearer tk-tenant-b"]
        assert len(set(SiteSageSessions.keys())) == 2

        adx = {"cluster": "https://example.kusto.windows.net", "database": "t", "auth": "app_key",
               "client_id": "app", "client_secret": "s"}
        x = PluginManager.get_plugin("adx", **adx, tenant_id="tenant-x")
        y = PluginManager.get_plugin("adx", **adx, tenant_id="tenant-y")
        assert x is not y
        assert isinstance(x, ADXConnector)
        x.connect()
        y.connect()
        assert len(set(ADXConnectionManager.keys())) == 2
        assert x._client is not y._client  # type: ignore[attr-defined]

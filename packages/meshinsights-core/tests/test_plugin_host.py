"""The plugin host in-process: registries, clashes, isolation of failures, laziness."""

from __future__ import annotations

import subprocess
import sys
import types

import pandas as pd
import pytest

from meshinsights import DBConnector, PluginManager, hookimpl
from meshinsights.errors import PluginError
from meshinsights.plugins import PluginHost
from meshinsights.testing import isolated_host


class EchoConnector(DBConnector):
    def connect(self):
        return None, None

    def execute_query(self, query, parameters=None):
        return pd.DataFrame({"query": [query]})


def _plugin(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def test_connectors_of_plugins_are_found_without_explicit_registration() -> None:
    plugin = _plugin("echo_plugin", register_connectors=lambda register: register("echo", EchoConnector))
    with isolated_host(plugin):
        connector = PluginManager.get_plugin("echo", dsn="x")
        assert isinstance(connector, EchoConnector)
        assert connector.execute_query("hello")["query"].tolist() == ["hello"]
        assert PluginManager.list_plugins() == ["echo", "memory"]


def test_explicit_registration_wins_and_can_be_removed() -> None:
    class Other(EchoConnector):
        pass

    plugin = _plugin("echo_plugin", register_connectors=lambda register: register("echo", EchoConnector))
    with isolated_host(plugin):
        PluginManager.register_plugin("echo", Other)
        try:
            assert type(PluginManager.get_plugin("echo")) is Other
        finally:
            PluginManager.unregister_plugin("echo")
            PluginManager.cleanup()
        assert type(PluginManager.get_plugin("echo")) is EchoConnector


def test_register_plugin_rejects_non_connectors() -> None:
    with pytest.raises(PluginError, match="not a DBConnector subclass"):
        PluginManager.register_plugin("bad", object)  # type: ignore[arg-type]


def test_unknown_connector_lists_what_is_installed() -> None:
    with isolated_host(), pytest.raises(PluginError, match=r"no connector named 'nope'; available: memory"):
        PluginManager.get_plugin("nope")


def test_one_name_registered_by_two_plugins_names_both() -> None:
    first = _plugin("first", register_connectors=lambda register: register("dup", EchoConnector))

    class Twin(EchoConnector):
        pass

    second = _plugin("second", register_connectors=lambda register: register("dup", Twin))
    with isolated_host(first, second) as host, pytest.raises(PluginError) as info:
        _ = host.registry
    message = str(info.value)
    assert "'dup' is registered twice" in message
    assert "'first'" in message and "'second'" in message


def test_a_failing_registration_hook_only_loses_its_own_plugin() -> None:
    def explode(register):
        raise RuntimeError("backend missing")

    good = _plugin("good", register_connectors=lambda register: register("echo", EchoConnector))
    bad = _plugin("bad", register_processors=explode)
    with isolated_host(good, bad) as host:
        assert "echo" in host.registry.connectors
        assert "backend missing" in (host.records["bad"].error or "")


def test_strict_host_raises_on_a_failing_registration_hook() -> None:
    def explode(register):
        raise RuntimeError("backend missing")

    host = PluginHost(load_entry_points=False, builtins=(), disabled=(), strict=True)
    host.register(_plugin("bad", register_processors=explode))
    with pytest.raises(PluginError, match="backend missing"):
        _ = host.registry


def test_hookimpl_without_spec_is_rejected() -> None:
    host = PluginHost(load_entry_points=False, builtins=(), disabled=(), strict=False)
    with pytest.raises(Exception, match="register_widgets"):
        host.register(_plugin("odd", register_widgets=lambda register: None))


def test_lifecycle_hooks_are_called_with_keyword_arguments() -> None:
    calls: list[str] = []

    class Observer:
        @hookimpl
        def on_device_end(self, device_id, data_object, run_id):
            calls.append(device_id)

    from meshinsights import DeviceUnit, Pipeline, PipelineConfig

    with isolated_host(Observer()):
        pipeline = Pipeline(lambda d: {}, lambda d: {}, lambda d: [], config=PipelineConfig())
        pipeline.run_batch([DeviceUnit("a"), DeviceUnit("b")])
    assert calls == ["a", "b"]


def test_import_and_help_load_no_plugin_and_no_pandas() -> None:
    code = (
        "import sys, meshinsights, meshinsights.cli;"
        "heavy = ('pandas', 'pandera', 'meshinsights.builtin.memory', 'rich');"
        "heavy = [m for m in heavy if m in sys.modules];"
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

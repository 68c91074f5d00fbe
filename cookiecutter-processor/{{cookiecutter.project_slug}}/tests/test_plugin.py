"""The installed package is found by MeshInsights under its entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

from meshinsights.testing import isolated_host

# isort: split
from {{ cookiecutter.module_name }} import plugin
from {{ cookiecutter.module_name }}.processor import {{ cookiecutter.processor_class }}


def test_entry_point_names_the_plugin_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="meshinsights") if ep.name == "{{ cookiecutter.plugin_name }}"]
    assert entry_point.value == "{{ cookiecutter.module_name }}.plugin"
    assert entry_point.load() is plugin


def test_discovered_with_its_processor() -> None:
    with isolated_host(entry_points=True) as host:
        record = host.records["{{ cookiecutter.plugin_name }}"]
        assert record.error is None
        assert record.distribution == "{{ cookiecutter.project_slug }}"
        registered = host.registry.processors[plugin.PROCESSOR_NAME]
        assert registered.obj is {{ cookiecutter.processor_class }}
        assert registered.plugin == "{{ cookiecutter.plugin_name }}"

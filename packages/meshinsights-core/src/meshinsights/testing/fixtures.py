"""pytest fixtures for plugin authors: ``pytest_plugins = ["meshinsights.testing.fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meshinsights.plugins import PluginHost
from meshinsights.testing.hosts import isolated_host


@pytest.fixture
def plugin_host() -> Iterator[PluginHost]:
    """An isolated host with core's built-ins only; ``plugin_host.register(module)`` adds yours."""
    with isolated_host() as host:
        yield host

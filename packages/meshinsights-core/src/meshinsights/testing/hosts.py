"""Plugin hosts for tests: only the plugins a test names, never whatever is installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from meshinsights.connectors import PluginManager
from meshinsights.plugins import DEFAULT_PLUGINS, PluginHost, use_host


@contextmanager
def isolated_host(
    *plugins: ModuleType | object, builtins: bool = True, entry_points: bool = False
) -> Iterator[PluginHost]:
    """A fresh plugin host with ``plugins`` registered, current for the block.

    Pooled connectors are closed on the way out, so no test leaks a client
    into the next.
    """
    host = PluginHost(
        load_entry_points=entry_points,
        builtins=DEFAULT_PLUGINS if builtins else (),
        disabled=(),
        strict=False,
    )
    for plugin in plugins:
        host.register(plugin)
    with use_host(host):
        try:
            yield host
        finally:
            PluginManager.cleanup()

"""Built-in plugin: the ``memory`` connector (no database needed)."""

from __future__ import annotations

from meshinsights.hookspecs import Register
from meshinsights.markers import hookimpl


@hookimpl
def register_connectors(register: Register) -> None:
    from meshinsights.builtin.memory_connector import MemoryConnector

    register("memory", MemoryConnector)

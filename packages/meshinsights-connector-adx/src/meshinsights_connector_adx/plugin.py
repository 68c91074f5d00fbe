"""Entry point ``adx``: registers :class:`ADXConnector` (imported only when looked up)."""

from __future__ import annotations

from meshinsights.hookspecs import Register
from meshinsights.markers import hookimpl


@hookimpl
def register_connectors(register: Register) -> None:
    from meshinsights_connector_adx.connector import ADXConnector

    register("adx", ADXConnector)

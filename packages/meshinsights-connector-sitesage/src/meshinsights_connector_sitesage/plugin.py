"""Entry point ``sitesage``: registers :class:`SiteSageConnector` (imported only when looked up)."""

from __future__ import annotations

from meshinsights.hookspecs import Register
from meshinsights.markers import hookimpl


@hookimpl
def register_connectors(register: Register) -> None:
    from meshinsights_connector_sitesage.connector import SiteSageConnector

    register("sitesage", SiteSageConnector)

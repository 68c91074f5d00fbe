"""Entry-point module: registers the ``file`` connector (DuckDB is imported lazily)."""

from __future__ import annotations

from meshinsights import hookimpl
from meshinsights.hookspecs import Register


@hookimpl
def register_connectors(register: Register) -> None:
    from meshinsights_connector_file.connector import FileConnector

    register("file", FileConnector)

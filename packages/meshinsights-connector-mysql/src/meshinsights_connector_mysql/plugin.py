"""Entry-point module: registers the ``mysql`` connector (pymysql is imported lazily)."""

from __future__ import annotations

from meshinsights import hookimpl
from meshinsights.hookspecs import Register


@hookimpl
def register_connectors(register: Register) -> None:
    from meshinsights_connector_mysql.connector import MySQLConnector

    register("mysql", MySQLConnector)

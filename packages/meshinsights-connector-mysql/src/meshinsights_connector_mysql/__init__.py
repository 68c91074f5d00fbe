"""The ``mysql`` connector of MeshInsights: MySQL and MariaDB through pymysql.

Classes are imported on first use, so that discovering the plugin does not
load pymysql, pandas or tenacity.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["MySQLConnectionManager", "MySQLConnector", "MySQLSettings"]

_EXPORTS = {
    "MySQLConnector": "meshinsights_connector_mysql.connector",
    "MySQLConnectionManager": "meshinsights_connector_mysql.pool",
    "MySQLSettings": "meshinsights_connector_mysql.settings",
}

if TYPE_CHECKING:
    from meshinsights_connector_mysql.connector import MySQLConnector
    from meshinsights_connector_mysql.pool import MySQLConnectionManager
    from meshinsights_connector_mysql.settings import MySQLSettings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

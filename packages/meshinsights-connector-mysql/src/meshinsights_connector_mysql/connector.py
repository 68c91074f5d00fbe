"""MySQLConnector: SQL to MySQL or MariaDB through pymysql, results as DataFrames.

Values always go to ``cursor.execute(sql, params)``, which escapes them:
``%s`` placeholders with a sequence, ``%(name)s`` with a mapping; a list or
tuple value becomes ``(a, b, c)``, so ``device_id IN %(devices)s`` works.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from meshinsights.connectors import DBConnector, QueryParameters
from meshinsights.errors import ConnectorError
from meshinsights_connector_mysql.frames import to_frame
from meshinsights_connector_mysql.pool import MySQLConnectionManager
from meshinsights_connector_mysql.settings import MySQLSettings, parse_settings


class MySQLConnector(DBConnector):
    """``get_plugin("mysql", host=..., user=..., password=..., database=...)``."""

    plugin_name = "mysql"

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.settings: MySQLSettings = parse_settings(config)
        self._manager: MySQLConnectionManager | None = None
        self._lock = threading.Lock()

    @property
    def manager(self) -> MySQLConnectionManager:
        """The shared connection manager of this session (acquired on first use)."""
        with self._lock:
            if self._manager is None:
                self._manager = MySQLConnectionManager.acquire(self.settings)
            return self._manager

    def connect(self) -> tuple[Any, Any]:
        """The shared manager and the database name; connections open on first query."""
        return self.manager, self.settings.database

    def execute_query(self, query: str, parameters: QueryParameters = None) -> pd.DataFrame:
        description, rows = self.manager.fetch_all(query, _arguments(parameters))
        return to_frame(description, rows)

    def iter_query(
        self, query: str, parameters: QueryParameters = None, chunksize: int = 50_000
    ) -> Iterator[pd.DataFrame]:
        """The result in DataFrames of at most ``chunksize`` rows, read with a server-side cursor.

        Memory stays bounded by the chunk size whatever the size of the result.
        Consume or close the iterator before running another query in the same thread.
        """
        if chunksize < 1:
            raise ConnectorError(f"mysql connector: chunksize must be >= 1, got {chunksize}")
        for description, rows in self.manager.stream(query, _arguments(parameters), chunksize):
            yield to_frame(description, rows)

    def validate_connection(self) -> bool:
        """A real round trip: ``SELECT 1`` on the configured database."""
        self.manager.fetch_all("SELECT 1", None)
        return True

    def close(self) -> None:
        with self._lock:
            manager, self._manager = self._manager, None
        if manager is not None:
            manager.release()

    def get_metadata(self) -> dict[str, Any]:
        return {**super().get_metadata(), "server": self.settings.address}


def _arguments(parameters: QueryParameters) -> tuple[Any, ...] | dict[str, Any] | None:
    """A fresh tuple or dict pymysql can escape; the caller's object is not changed."""
    if parameters is None:
        return None
    if isinstance(parameters, Mapping):
        return {str(key): _value(str(key), value) for key, value in parameters.items()}
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence):
        raise ConnectorError(
            "mysql connector: parameters must be a mapping (for %(name)s) or a sequence "
            f"(for %s), not {type(parameters).__name__}"
        )
    return tuple(_value(str(i), value) for i, value in enumerate(parameters))


def _value(name: str, value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Index, pd.Series)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        if not items:
            raise ConnectorError(
                f"mysql connector: parameter {name} is an empty list; `IN ()` is not valid SQL "
                "(skip the query when there is nothing to select)"
            )
        return tuple(_value(name, v) for v in items)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, datetime):
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if value.tzinfo is not None:  # the session runs in UTC
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value

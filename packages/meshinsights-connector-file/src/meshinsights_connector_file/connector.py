"""FileConnector: SQL over CSV and Parquet files under one root directory, through DuckDB.

One in-memory DuckDB database per connector (that is, per config in the
pool), locked down before any query runs: external access is off except for
the root (``allowed_directories``), and ``lock_configuration`` stops a query
from giving that back. The boundary is DuckDB's own check on every file it
opens, whichever way SQL names a file (``read_parquet``, ``read_csv``, a bare
``'file.parquet'``, a glob, ``glob()``, ``COPY``, ``ATTACH``); the SQL is never
parsed by this package to find paths. Each thread queries through its own
cursor of that database, so views are shared and queries run in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from meshinsights.connectors import DBConnector, QueryParameters
from meshinsights.errors import ConnectorError
from meshinsights_connector_file.errors import translate
from meshinsights_connector_file.frames import relation_to_frame
from meshinsights_connector_file.settings import FileSettings, parse_settings

#: Statement types a query may hold: the connector only reads.
_READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


class FileConnector(DBConnector):
    """``get_plugin("file", root="data", tables={"power": "power/*.parquet"})``.

    Queries are DuckDB SQL; values travel in ``parameters``: a mapping for
    ``$name`` placeholders or a sequence for ``?``. A list value is a DuckDB
    list, so ``device_id = ANY($devices)`` selects several devices.
    """

    plugin_name = "file"
    path_keys = ("root",)

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._settings: FileSettings = parse_settings(config)
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._local = threading.local()
        self._generation = 0

    @property
    def root(self) -> str:
        return str(self._settings.root)

    def connect(self) -> tuple[Any, Any]:
        """The shared database (opened and locked down on first use) and this thread's cursor."""
        return self._database(), self._cursor()

    def _database(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                self._connection = self._open()
                self._generation += 1
            return self._connection

    def _open(self) -> duckdb.DuckDBPyConnection:
        root = self._settings.root
        if not root.is_dir():
            raise ConnectorError(f"file connector: root {str(root)!r} is not a directory")
        connection = duckdb.connect(":memory:")
        try:
            for statement, value in (
                ("SET GLOBAL TimeZone = ?", "UTC"),
                ("SET allowed_directories = ?", [self._settings.allowed_directory]),
                ("SET enable_external_access = ?", False),
                ("SET autoinstall_known_extensions = ?", False),
                # Footers and row-group statistics read once per file, not once per query:
                # a view over many files otherwise costs every query a pass over all footers.
                # DuckDB checks each file's modification time, so a rewritten file is re-read.
                ("SET parquet_metadata_cache = ?", True),
                ("SET lock_configuration = ?", True),
            ):
                connection.execute(statement, [value])
            for view in self._settings.views:
                try:
                    connection.execute(view.create_sql())
                except duckdb.Error as exc:
                    raise translate(
                        exc, root, f"table {view.name!r} ({view.pattern!r})"
                    ) from None
        except BaseException:
            connection.close()
            raise
        return connection

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        database = self._database()
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None or getattr(self._local, "generation", None) != self._generation:
            cursor = database.cursor()
            with self._lock:
                self._cursors.append(cursor)
            self._local.cursor, self._local.generation = cursor, self._generation
        return cursor

    def execute_query(self, query: str, parameters: QueryParameters = None) -> pd.DataFrame:
        cursor = self._cursor()
        values = _parameters(parameters)
        try:
            statements = cursor.extract_statements(query)
            if len(statements) != 1 or statements[0].type not in _READ_STATEMENTS:
                kinds = ", ".join(s.type.name for s in statements) or "none"
                raise ConnectorError(
                    "file connector: a query must be exactly one SELECT (or EXPLAIN) "
                    f"statement; got {kinds}"
                )
            if statements[0].type != duckdb.StatementType.SELECT:
                return cursor.execute(query, values).df()
            return relation_to_frame(cursor.sql(query, params=values), cursor)
        except duckdb.Error as exc:
            raise translate(exc, self._settings.root, "query") from None

    def validate_connection(self) -> bool:
        """The root is a readable directory and every view's files can be read."""
        self._database()
        cursor = self._cursor()
        for view in self._settings.views:
            try:
                cursor.execute(f'SELECT * FROM "{view.name}" LIMIT 0').fetchall()
            except duckdb.Error as exc:
                raise translate(
                    exc, self._settings.root, f"table {view.name!r} ({view.pattern!r})"
                ) from None
        return True

    def disconnect(self) -> None:
        """Drop this thread's cursor; the database stays open for the pool."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is not None:
            self._local.cursor = None
            with self._lock:
                if cursor in self._cursors:
                    self._cursors.remove(cursor)
            cursor.close()

    def close(self) -> None:
        """Close every cursor and the database; a later query opens a fresh one."""
        with self._lock:
            cursors, self._cursors = self._cursors, []
            connection, self._connection = self._connection, None
        for cursor in cursors:
            cursor.close()
        if connection is not None:
            connection.close()

    def get_metadata(self) -> dict[str, Any]:
        return {
            **super().get_metadata(),
            "root": self.root,
            "tables": {v.name: {"path": v.pattern, "format": v.format}
                       for v in self._settings.views},
        }


def _parameters(parameters: QueryParameters) -> dict[str, Any] | list[Any] | None:
    """A fresh dict or list DuckDB accepts; the caller's object is never changed."""
    if parameters is None:
        return None
    if isinstance(parameters, Mapping):
        return {str(key): _value(value) for key, value in parameters.items()}
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence):
        raise ConnectorError(
            "file connector: parameters must be a mapping (for $name) or a sequence (for ?), "
            f"not {type(parameters).__name__}"
        )
    return [_value(value) for value in parameters]


def _value(value: Any) -> Any:
    if isinstance(value, (tuple, set, frozenset, np.ndarray, pd.Index, pd.Series)):
        return [_value(v) for v in (sorted(value) if isinstance(value, (set, frozenset))
                                    else list(value))]
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value

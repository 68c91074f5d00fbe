"""MemoryConnector: serves DataFrames held in memory, queried by table name.

Lets pipelines be built, tested and demonstrated without a database. A query
is a table name; parameters filter rows, Django-style: ``{"device_id": "d1"}``
(equality, or membership for a list), ``{"timestamp__ge": t0,
"timestamp__lt": t1}`` (ranges: ``eq ne lt le gt ge in``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from meshinsights.connectors import DBConnector, QueryParameters
from meshinsights.errors import ConnectorError

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


class MemoryConnector(DBConnector):
    """Connector over ``tables={"name": DataFrame}``; pooled by the tables' identity."""

    plugin_name = "memory"

    def __init__(self, tables: Mapping[str, pd.DataFrame] | None = None, **config: Any) -> None:
        super().__init__(tables=tables, **config)
        self._tables: dict[str, pd.DataFrame] = dict(tables or {})
        for name, frame in self._tables.items():
            if not isinstance(frame, pd.DataFrame):
                raise ConnectorError(
                    f"memory connector: table {name!r} is a {type(frame).__name__}, not a DataFrame"
                )

    def connect(self) -> tuple[Any, Any]:
        return self._tables, None

    def validate_connection(self) -> bool:
        return True

    def execute_query(self, query: str, parameters: QueryParameters = None) -> pd.DataFrame:
        table = query.strip()
        frame = self._tables.get(table)
        if frame is None:
            available = ", ".join(sorted(self._tables)) or "none"
            raise ConnectorError(f"memory connector: no table {table!r} (tables: {available})")
        if parameters is None:
            return frame.copy(deep=False)
        if not isinstance(parameters, Mapping):
            raise ConnectorError("memory connector: parameters must be a mapping of column filters")
        mask = np.ones(len(frame), dtype=bool)
        for key, value in parameters.items():
            mask &= self._condition(frame, table, str(key), value)
        return frame.loc[mask].reset_index(drop=True)

    @staticmethod
    def _condition(frame: pd.DataFrame, table: str, key: str, value: Any) -> np.ndarray:
        column, _, op = key.partition("__")
        if column not in frame.columns:
            raise ConnectorError(f"memory connector: table {table!r} has no column {column!r}")
        series = frame[column]
        if op == "in" or (not op and isinstance(value, (list, tuple, set, frozenset))):
            return series.isin(list(value)).to_numpy(dtype=bool)
        compare = _OPERATORS.get(op or "eq")
        if compare is None:
            raise ConnectorError(
                f"memory connector: unknown operator {op!r} in {key!r} "
                f"(use one of {', '.join(['in', *_OPERATORS])})"
            )
        result = compare(series, value)
        return np.asarray(result.fillna(False) if hasattr(result, "fillna") else result, dtype=bool)

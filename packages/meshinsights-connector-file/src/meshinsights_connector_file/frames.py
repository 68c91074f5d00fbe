"""DuckDB results to pandas DataFrames through Arrow, with DuckDB's own pandas types.

DuckDB's ``.df()`` turns every VARCHAR value into a Python string, which
pandas 3 then re-encodes into its Arrow-backed ``str`` column: about 10 ms per
text column of 43,000 rows, more than the Parquet scan that found them. So a
query's result is fetched as one Arrow table; the columns whose Arrow-to-pandas
conversion gives exactly what ``.df()`` gives (text, floats, timestamps, and
integers or booleans without NULLs) are converted by pyarrow, and the others
(dates, decimals, intervals, integers with NULLs as pandas' nullable types) by
DuckDB's ``.df()`` over that same Arrow table, not a second query. A result
with any type outside the checked set is converted by ``.df()`` alone.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

#: Converted by pyarrow: the same pandas column as ``.df()`` gives.
_DIRECT = frozenset({
    "VARCHAR", "DOUBLE", "FLOAT", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
})
#: Converted by pyarrow when the column has no NULL (``.df()`` makes those nullable types).
_DIRECT_WITHOUT_NULLS = frozenset({
    "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT",
})
#: Converted by ``.df()`` over the Arrow table: the same as ``.df()`` of the query.
_THROUGH_DUCKDB = frozenset({"DATE", "INTERVAL"}) | _DIRECT_WITHOUT_NULLS
# tests/test_file_queries.py compares each of these types with ``.df()``.


def _checked(type_name: str) -> bool:
    return type_name in _DIRECT or type_name in _THROUGH_DUCKDB or type_name.startswith("DECIMAL(")


def _direct(type_name: str, column: pa.ChunkedArray) -> bool:
    return type_name in _DIRECT or (type_name in _DIRECT_WITHOUT_NULLS and column.null_count == 0)


def relation_to_frame(
    relation: duckdb.DuckDBPyRelation, cursor: duckdb.DuckDBPyConnection
) -> pd.DataFrame:
    """The relation's rows as a DataFrame (the query runs here)."""
    names, types = relation.columns, [str(t) for t in relation.types]
    frame: pd.DataFrame
    if not all(map(_checked, types)) or len(set(names)) != len(names):
        frame = relation.df()
        return frame
    table = relation.to_arrow_table()
    direct = [i for i, name in enumerate(types) if _direct(name, table.column(i))]
    if len(direct) == len(names):
        frame = table.to_pandas()
        return frame
    others = [i for i in range(len(names)) if i not in set(direct)]
    frame = cursor.from_arrow(table.select(others)).df()
    if direct:
        frame = pd.concat([frame, table.select(direct).to_pandas()], axis=1)
    return frame[names]

"""pandas DataFrames -> Kusto column types and JSON rows, as the service writes them.

datetime: ISO 8601 UTC with 7 fractional digits and ``Z``; timespan:
``[-]d.hh:mm:ss.fffffff`` (or integer ticks of 100 ns); dynamic: embedded
JSON; null: ``null``. Column by column, no loop over rows in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from meshinsights_connector_adx.testing.kql import Table


def kusto_type(series: pd.Series) -> str:
    """The Kusto type a column is served as."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timespan"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "long"
    if pd.api.types.is_float_dtype(dtype):
        return "real"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "string"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return "string" if inferred in ("string", "empty") else "dynamic"


def make_table(frame: pd.DataFrame, types: Mapping[str, str] | None = None) -> Table:
    """A served table: datetimes made UTC-aware (naive means UTC), types inferred or given."""
    given = dict(types or {})
    unknown = sorted(set(given) - set(frame.columns))
    if unknown:
        raise ValueError(f"types given for columns the frame lacks: {unknown}")
    columns: dict[str, pd.Series] = {}
    for name in frame.columns:
        series = frame[name]
        kql_type = given.get(name) or kusto_type(series)
        given[name] = kql_type
        if kql_type == "datetime":
            series = pd.to_datetime(series, utc=True).astype("datetime64[ns, UTC]")
        columns[name] = series
    return Table(pd.DataFrame(columns, index=frame.index), {n: given[n] for n in frame.columns})


def _nullable(values: pd.Series, encoded: pd.Series | np.ndarray) -> np.ndarray:
    out = np.array(encoded, dtype=object)
    out[values.isna().to_numpy()] = None
    return out


def _datetimes(values: pd.Series) -> np.ndarray:
    stamps = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
    ticks = (stamps.dt.microsecond * 10 + stamps.dt.nanosecond // 100).astype("Int64")
    text = (
        stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.")
        + ticks.astype(str).str.zfill(7)
        + "Z"
    )
    return _nullable(values, text)


def _timespans(values: pd.Series, as_ticks: bool) -> np.ndarray:
    total = values.astype("timedelta64[ns]").to_numpy().astype("int64")
    ticks = np.abs(total) // 100
    if as_ticks:
        return _nullable(values, np.where(total < 0, -ticks, ticks).astype(object))
    seconds, frac = np.divmod(ticks, 10_000_000)
    minutes, sec = np.divmod(seconds, 60)
    hours, minute = np.divmod(minutes, 60)
    days, hour = np.divmod(hours, 24)
    text = (
        pd.Series(np.where(total < 0, "-", "")).astype(str)
        + pd.Series(days).astype(str) + "."
        + pd.Series(hour).astype(str).str.zfill(2) + ":"
        + pd.Series(minute).astype(str).str.zfill(2) + ":"
        + pd.Series(sec).astype(str).str.zfill(2) + "."
        + pd.Series(frac).astype(str).str.zfill(7)
    )
    return _nullable(values, text.to_numpy())


def encode_column(values: pd.Series, kql_type: str, *, timespan_ticks: bool = False) -> np.ndarray:
    """One column's JSON-ready values (Python objects, ``None`` for null)."""
    values = values.reset_index(drop=True)
    if kql_type == "datetime":
        return _datetimes(values)
    if kql_type == "timespan":
        return _timespans(values, timespan_ticks)
    if kql_type in ("long", "int"):
        return _nullable(values, values.astype("Int64").astype(object))
    if kql_type in ("real", "double", "decimal"):
        return _nullable(values, values.astype("float64").astype(object))
    if kql_type == "bool":
        return _nullable(values, values.astype("boolean").astype(object))
    if kql_type in ("string", "guid"):
        return _nullable(values, values.astype(object))
    return np.asarray(values.astype(object), dtype=object)


def encode_rows(table: Table, *, timespan_ticks: bool = False) -> list[list[Any]]:
    """The ``Rows`` of a DataTable frame."""
    frame = table.frame
    if frame.empty:
        return []
    columns = [
        encode_column(frame[name], table.types[name], timespan_ticks=timespan_ticks)
        for name in frame.columns
    ]
    stacked = np.empty((len(frame), len(columns)), dtype=object)
    for index, column in enumerate(columns):
        stacked[:, index] = column
    rows: list[list[Any]] = stacked.tolist()
    return rows


def data_table(table: Table, *, table_id: int = 0, timespan_ticks: bool = False) -> dict[str, Any]:
    """A v2 ``DataTable`` frame holding the primary result."""
    return {
        "FrameType": "DataTable",
        "TableId": table_id,
        "TableKind": "PrimaryResult",
        "TableName": "PrimaryResult",
        "Columns": [
            {"ColumnName": name, "ColumnType": table.types[name]} for name in table.frame.columns
        ],
        "Rows": encode_rows(table, timespan_ticks=timespan_ticks),
    }


def v2_response(table: Table, *, timespan_ticks: bool = False) -> list[dict[str, Any]]:
    """The frames of a successful v2 query answer."""
    return [
        {"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0"},
        data_table(table, timespan_ticks=timespan_ticks),
        {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False},
    ]


def v1_response(table: Table) -> dict[str, Any]:
    """A v1 answer (management commands) with one table."""
    return {
        "Tables": [
            {
                "TableName": "Table_0",
                "Columns": [
                    {"ColumnName": name, "DataType": "Object", "ColumnType": table.types[name]}
                    for name in table.frame.columns
                ],
                "Rows": encode_rows(table),
            }
        ]
    }

"""Rows and ``cursor.description`` to a DataFrame, with dtypes from the column types.

pandas infers most dtypes from the values; the description fixes what values
cannot say: TIMESTAMP columns are UTC (the session time zone is set to UTC),
and an empty result or an all-NULL column still gets its column's dtype.
TIMESTAMP and DATETIME values arrive as text (``PARSED_HERE``) and are parsed
a column at a time: pymysql would build one ``datetime`` per value in Python,
about 40 % of a fetch's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from pymysql.constants import FIELD_TYPE

_INTEGER = {FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.LONG, FIELD_TYPE.LONGLONG,
            FIELD_TYPE.INT24, FIELD_TYPE.YEAR}
_FLOAT = {FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE, FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL}
_DATETIME = {FIELD_TYPE.DATETIME, FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE}
_TEXT = {FIELD_TYPE.VARCHAR, FIELD_TYPE.VAR_STRING, FIELD_TYPE.STRING, FIELD_TYPE.ENUM,
         FIELD_TYPE.SET, FIELD_TYPE.JSON}

#: Left as text by the connection's converters, parsed here by column.
PARSED_HERE = frozenset({FIELD_TYPE.TIMESTAMP, FIELD_TYPE.DATETIME})


def _datetimes(series: pd.Series, errors: Any) -> pd.Series:
    """Text (or datetimes) to ``datetime64[us]``, MySQL's finest precision."""
    parsed = pd.to_datetime(series, format="ISO8601", errors=errors)
    return parsed.dt.as_unit("us")


def to_frame(description: Sequence[Sequence[Any]], rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    columns = [d[0] for d in description]
    frame = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    for position, column in enumerate(description):
        type_code = column[1]
        series = frame.iloc[:, position]
        converted: pd.Series[Any]
        # Zero dates (0000-00-00 00:00:00, MySQL's "no value") become NaT.
        if type_code == FIELD_TYPE.TIMESTAMP:
            converted = _datetimes(series, "coerce").dt.tz_localize("UTC")
        elif type_code == FIELD_TYPE.DATETIME:
            converted = _datetimes(series, "coerce")
        elif type_code in _DATETIME and series.dtype == object:
            converted = pd.to_datetime(series, errors="coerce")
        elif type_code in _FLOAT and series.dtype == object:
            converted = pd.to_numeric(series, errors="coerce").astype("float64")
        elif type_code in _INTEGER and not rows:
            converted = series.astype("int64")
        elif type_code in _INTEGER and series.dtype == object:
            converted = pd.to_numeric(series, errors="coerce")
        elif type_code in _TEXT and series.dtype == object and not rows:
            converted = series.astype("str")
        else:
            continue
        frame.isetitem(position, converted.array)
    return frame

"""Kusto result tables -> pandas DataFrames with the right dtypes, column by column.

datetime -> ``datetime64[ns, UTC]`` (Kusto's 100 ns ticks kept), timespan ->
``timedelta64[ns]`` (from ``d.hh:mm:ss.fffffff`` strings or integer ticks),
long/int -> nullable ``Int64``/``Int32``, real/decimal -> ``float64`` (null as
NaN), bool -> nullable ``boolean``, string/guid -> string, dynamic -> Python
objects. Empty results keep their columns and dtypes. No loop over rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from meshinsights.errors import ConnectorError

_TIMESPAN_DAYS = r"^(\d+)\.(\d{1,2}:)"


def string_dtype() -> pd.StringDtype:
    """pandas' default string dtype (NaN for missing on pandas >= 2.3, NA before)."""
    try:
        return pd.StringDtype(na_value=np.nan)
    except TypeError:  # pandas < 2.3
        return pd.StringDtype()


def _datetime(values: pd.Series, column: str) -> pd.Series:
    try:
        parsed = pd.to_datetime(values, format="ISO8601", utc=True)
        return parsed.astype("datetime64[ns, UTC]")
    except (ValueError, OverflowError) as exc:
        raise ConnectorError(
            f"adx result column {column!r} (datetime): cannot read a value as a UTC timestamp "
            f"in pandas' range: {exc}"
        ) from None


def _timespan(values: pd.Series, column: str) -> pd.Series:
    result = pd.Series(pd.NaT, index=values.index, dtype="timedelta64[ns]")
    # Integer ticks of 100 ns, or text: "d.hh:mm:ss.fffffff" never reads as a number.
    ticks = pd.to_numeric(values, errors="coerce")
    numeric = ticks.notna()
    if numeric.any():
        result[numeric] = pd.to_timedelta(ticks[numeric].astype("int64") * 100, unit="ns")
    text = values[~numeric & values.notna()].astype(str)
    if len(text):
        negative = text.str.startswith("-")
        unsigned = text.str.lstrip("-").str.replace(_TIMESPAN_DAYS, r"\1 days \2", regex=True)
        try:
            parsed = pd.to_timedelta(unsigned).astype("timedelta64[ns]")
        except ValueError as exc:
            raise ConnectorError(
                f"adx result column {column!r} (timespan): unreadable value: {exc}"
            ) from None
        result[text.index] = parsed.where(~negative, -parsed)
    return result


def _boolean(values: pd.Series, column: str) -> pd.Series:
    mapped = values.replace({"true": True, "false": False, "True": True, "False": False})
    try:
        return mapped.astype("boolean")
    except (TypeError, ValueError) as exc:
        raise ConnectorError(f"adx result column {column!r} (bool): {exc}") from None


def _numeric(dtype: str) -> Callable[[pd.Series, str], pd.Series]:
    def convert(values: pd.Series, column: str) -> pd.Series:
        cleaned = values.replace({"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf})
        try:
            numbers = pd.to_numeric(cleaned)
        except (TypeError, ValueError) as exc:
            raise ConnectorError(f"adx result column {column!r} ({dtype}): {exc}") from None
        return numbers.astype(dtype)  # type: ignore[call-overload, no-any-return]

    return convert


def _string(values: pd.Series, column: str) -> pd.Series:
    return values.astype(string_dtype())


def _dynamic(values: pd.Series, column: str) -> pd.Series:
    return values.astype(object)


_CONVERTERS: dict[str, Callable[[pd.Series, str], pd.Series]] = {
    "datetime": _datetime,
    "date": _datetime,
    "timespan": _timespan,
    "time": _timespan,
    "bool": _boolean,
    "boolean": _boolean,
    "int": _numeric("Int32"),
    "int32": _numeric("Int32"),
    "long": _numeric("Int64"),
    "int64": _numeric("Int64"),
    "real": _numeric("float64"),
    "double": _numeric("float64"),
    "decimal": _numeric("float64"),
    "string": _string,
    "guid": _string,
    "uuid": _string,
    "uniqueid": _string,
    "dynamic": _dynamic,
}


def frame_from_rows(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> pd.DataFrame:
    """Build the DataFrame of ``rows`` given ``(name, kusto_type)`` columns."""
    names = [name for name, _ in columns]
    raw = pd.DataFrame(list(rows), columns=names, dtype=object)
    converted: dict[str, pd.Series] = {}
    for name, kusto_type in columns:
        convert = _CONVERTERS.get(kusto_type.lower())
        if convert is None:
            raise ConnectorError(f"adx result column {name!r} has unknown Kusto type {kusto_type!r}")
        converted[name] = convert(raw[name], name)
    return pd.DataFrame(converted, columns=names, index=pd.RangeIndex(len(raw)))


def frame_from_table(table: Any) -> pd.DataFrame:
    """The DataFrame of an azure-kusto-data ``KustoResultTable``."""
    columns = [(c.column_name, c.column_type) for c in table.columns]
    return frame_from_rows(columns, table.raw_rows)

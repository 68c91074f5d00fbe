"""Python values -> Kusto query parameters (typed declarations plus string values).

Values never enter the query text: the text gets a ``declare
query_parameters(name:type, ...)`` statement and the values travel in the
request's ``Parameters`` property, each as a string Kusto parses with the
declared type's ordinary parsing rules.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Set
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import pandas as pd

from meshinsights.errors import ConnectorError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DECLARE = re.compile(r"^\s*declare\s+query_parameters\s*\(", re.IGNORECASE)


@attrs.frozen
class KustoParameter:
    """One declared parameter; ``value`` is the string sent in ``Parameters``."""

    name: str
    kql_type: str
    value: str = attrs.field(repr=False)


def format_datetime(value: datetime | pd.Timestamp) -> str:
    """ISO 8601 in UTC with 7 fractional digits (Kusto's tick precision); naive means UTC."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    ticks = (stamp.microsecond * 10) + (stamp.nanosecond // 100)
    return f"{stamp.strftime('%Y-%m-%dT%H:%M:%S')}.{ticks:07d}Z"


def format_timespan(value: timedelta | pd.Timedelta) -> str:
    """``[-]d.hh:mm:ss.fffffff``, Kusto's timespan literal form."""
    total_ns = int(pd.Timedelta(value).value)
    sign = "-" if total_ns < 0 else ""
    ticks = abs(total_ns) // 100
    seconds, frac = divmod(ticks, 10_000_000)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    return f"{sign}{days}.{hour:02d}:{minute:02d}:{sec:02d}.{frac:07d}"


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, pd.Timestamp)):
        return format_datetime(value)
    if isinstance(value, (timedelta, pd.Timedelta)):
        return format_timespan(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Set, np.ndarray, pd.Series, pd.Index)):
        return list(value)
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(type(value).__name__)


def encode_value(name: str, value: Any) -> tuple[str, str]:
    """``(kql_type, string)`` for one Python value; errors name the parameter, not the value."""
    if isinstance(value, np.generic) and not isinstance(value, (np.datetime64, np.timedelta64)):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        raise ConnectorError(
            f"adx query parameter {name!r} is null; Kusto query parameters need a value "
            "(filter with isnull() in the query instead)"
        )
    if isinstance(value, bool):
        return "bool", "true" if value else "false"
    if isinstance(value, int):
        return "long", str(value)
    if isinstance(value, float):
        return "real", repr(value)
    if isinstance(value, Decimal):
        return "decimal", str(value)
    if isinstance(value, str):
        return "string", value
    if isinstance(value, uuid.UUID):
        return "guid", str(value)
    if isinstance(value, (pd.Timestamp, datetime, np.datetime64)):
        return "datetime", format_datetime(pd.Timestamp(value))
    if isinstance(value, date):
        return "datetime", format_datetime(pd.Timestamp(value))
    if isinstance(value, (pd.Timedelta, timedelta, np.timedelta64)):
        return "timespan", format_timespan(pd.Timedelta(value))
    if isinstance(value, (list, tuple, Set, Mapping, np.ndarray, pd.Series, pd.Index)):
        try:
            return "dynamic", json.dumps(
                value if isinstance(value, Mapping) else list(value), default=_json_default
            )
        except (TypeError, ValueError) as exc:
            raise ConnectorError(
                f"adx query parameter {name!r}: cannot send an element of type {exc} as dynamic"
            ) from None
    raise ConnectorError(
        f"adx query parameter {name!r}: unsupported type {type(value).__name__} "
        "(use str, int, float, bool, datetime, timedelta, UUID, Decimal, a list or a dict)"
    )


def encode_parameters(parameters: Any) -> list[KustoParameter]:
    """Check names and encode values; ``None`` means no parameters."""
    if parameters is None:
        return []
    if not isinstance(parameters, Mapping):
        raise ConnectorError(
            "adx query parameters must be a mapping of name -> value, used in the query by name "
            f"(got {type(parameters).__name__})"
        )
    encoded: list[KustoParameter] = []
    for name, value in parameters.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConnectorError(
                f"adx query parameter name {name!r} is not a KQL identifier ([A-Za-z_][A-Za-z0-9_]*)"
            )
        kql_type, text = encode_value(name, value)
        encoded.append(KustoParameter(name, kql_type, text))
    return encoded


def has_declaration(query: str) -> bool:
    """Whether the query already declares its parameters (then its types win)."""
    return bool(_DECLARE.match(query))


def with_declaration(query: str, parameters: list[KustoParameter]) -> str:
    """The query text prefixed with ``declare query_parameters(...)`` (names and types only)."""
    if not parameters or has_declaration(query):
        return query
    declared = ", ".join(f"{p.name}:{p.kql_type}" for p in parameters)
    return f"declare query_parameters({declared});\n{query}"

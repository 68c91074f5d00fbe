"""Endpoint templates: path parameters checked and quoted, the rest become the query string."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import attrs
import pandas as pd

from meshinsights_connector_sitesage.errors import SiteSageError

CONTROLS_ENDPOINT = "/v1/locations/{location_id}/controls"
POWER_ENDPOINT = "/v1/locations/{location_id}/controls/{control_id}/power"

STAGES = ("Y1", "Y2", "W1", "W2", "G", "OFF")

#: Query-string names the connector manages itself.
RESERVED = frozenset({"page_token"})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEMPLATE = re.compile(r"^(/[A-Za-z0-9._~-]*(\{[A-Za-z_][A-Za-z0-9_]*\})?[A-Za-z0-9._~-]*)+$")


@attrs.frozen
class Field:
    """A record field of an endpoint's ``data`` and the dtype it becomes."""

    name: str
    kind: str  # "datetime" | "float" | "string"
    required: bool = True


#: What each known endpoint's records hold (others are returned as they come).
SCHEMAS: dict[str, tuple[Field, ...]] = {
    CONTROLS_ENDPOINT: (
        Field("id", "string"), Field("name", "string"), Field("equipment_type", "string"),
    ),
    POWER_ENDPOINT: (
        Field("timestamp", "datetime"), Field("power_w", "float"), Field("stage", "string"),
    ),
}


def _check_segment(template: str, name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SiteSageError(
            f"sitesage {template}: path parameter {name!r} must be a string or an integer, "
            f"not {type(value).__name__}",
            endpoint=template,
        )
    text = str(value)
    problem = None
    if not text:
        problem = "is empty"
    elif _CONTROL.search(text):
        problem = "contains a control character"
    elif any(ch in text for ch in "/\\"):
        problem = "contains a path separator"
    elif any(ch in text for ch in "?#"):
        problem = "contains '?' or '#'"
    elif "%" in text:
        problem = "contains '%' (percent-encoded text is not an id)"
    elif set(text) <= {"."}:
        problem = "is a relative path segment"
    if problem is not None:
        raise SiteSageError(
            f"sitesage {template}: path parameter {name!r} {problem}; ids are sent as one "
            "URL path segment",
            endpoint=template,
        )
    return quote(text, safe="")


def query_value(template: str, name: str, value: Any) -> str:
    """One query-string value: datetimes as ISO 8601 UTC with ``Z``, scalars as text."""
    if isinstance(value, (pd.Timestamp, datetime, date)):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        text = str(value)
        if _CONTROL.search(text):
            raise SiteSageError(
                f"sitesage {template}: query parameter {name!r} contains a control character",
                endpoint=template,
            )
        return text
    raise SiteSageError(
        f"sitesage {template}: query parameter {name!r} must be a scalar or a datetime, "
        f"not {type(value).__name__}",
        endpoint=template,
    )


def path_parameter_names(template: str) -> list[str]:
    """The ``{placeholders}`` of a template, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def render(template: str, parameters: Mapping[str, Any] | None) -> tuple[str, dict[str, str]]:
    """``(path, query)`` for ``template``: placeholders filled and quoted, the rest as query."""
    if not isinstance(template, str) or not _TEMPLATE.match(template) or "/../" in f"{template}/" \
            or "/./" in f"{template}/":
        raise SiteSageError(
            f"sitesage endpoint {template!r} is not a path template like {POWER_ENDPOINT}",
            endpoint=str(template),
        )
    if parameters is not None and not isinstance(parameters, Mapping):
        raise SiteSageError(
            f"sitesage {template}: parameters must be a mapping of name -> value",
            endpoint=template,
        )
    values = dict(parameters or {})
    names = path_parameter_names(template)
    missing = [name for name in names if name not in values]
    if missing:
        raise SiteSageError(
            f"sitesage {template}: missing path parameter(s) {', '.join(map(repr, missing))}",
            endpoint=template,
        )
    path = template.format_map({name: _check_segment(template, name, values[name]) for name in names})
    reserved = sorted(RESERVED & set(values))
    if reserved:
        raise SiteSageError(
            f"sitesage {template}: {', '.join(reserved)} is managed by the connector (pagination)",
            endpoint=template,
        )
    query = {
        str(name): query_value(template, str(name), value)
        for name, value in values.items() if name not in names and value is not None
    }
    return path, query

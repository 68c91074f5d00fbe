"""Records of an endpoint's ``data`` -> a typed DataFrame, checked against its schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from meshinsights_connector_sitesage.endpoints import SCHEMAS, STAGES, Field
from meshinsights_connector_sitesage.errors import SiteSageError


def string_dtype() -> pd.StringDtype:
    """pandas' default string dtype (NaN for missing on pandas >= 2.3, NA before)."""
    try:
        return pd.StringDtype(na_value=np.nan)
    except TypeError:  # pandas < 2.3
        return pd.StringDtype()


def _empty(fields: Sequence[Field]) -> pd.DataFrame:
    dtypes: dict[str, Any] = {
        "datetime": "datetime64[ns, UTC]", "float": "float64", "string": string_dtype()
    }
    return pd.DataFrame(
        {f.name: pd.Series([], dtype=dtypes[f.kind]) for f in fields}
    )


def _convert(frame: pd.DataFrame, field: Field, endpoint: str) -> pd.Series:
    values = frame[field.name]
    if field.kind == "datetime":
        try:
            parsed = pd.to_datetime(values, format="ISO8601", utc=True)
        except (ValueError, TypeError) as exc:
            raise SiteSageError(
                f"sitesage {endpoint}: field {field.name!r} holds a value that is not an "
                f"ISO 8601 timestamp ({exc})",
                endpoint=endpoint,
            ) from None
        if parsed.isna().any():
            raise SiteSageError(
                f"sitesage {endpoint}: field {field.name!r} is null in "
                f"{int(parsed.isna().sum())} record(s)",
                endpoint=endpoint,
            )
        return parsed.astype("datetime64[ns, UTC]")
    if field.kind == "float":
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna() & values.notna()
        if bad.any():
            raise SiteSageError(
                f"sitesage {endpoint}: field {field.name!r} is not a number in "
                f"{int(bad.sum())} record(s)",
                endpoint=endpoint,
            )
        return numeric.astype("float64")
    return values.astype(string_dtype())


def records_frame(endpoint: str, records: list[Any]) -> pd.DataFrame:
    """The DataFrame of all pages' records; errors name the endpoint and the field."""
    fields = SCHEMAS.get(endpoint)
    if not records:
        return _empty(fields) if fields else pd.DataFrame()
    frame = pd.DataFrame.from_records(records)
    if fields is None:
        return frame
    missing = [f.name for f in fields if f.required and f.name not in frame.columns]
    if missing:
        raise SiteSageError(
            f"sitesage {endpoint}: the answer's records lack field(s) "
            f"{', '.join(map(repr, missing))}",
            endpoint=endpoint,
        )
    absent = frame[[f.name for f in fields if f.required]].isna().sum()
    absent = absent[absent > 0]
    if len(absent):
        raise SiteSageError(
            f"sitesage {endpoint}: field(s) "
            + ", ".join(f"{name!r} missing or null in {count} record(s)"
                        for name, count in absent.items()),
            endpoint=endpoint,
        )
    columns = {f.name: _convert(frame, f, endpoint) for f in fields}
    extra = [c for c in frame.columns if c not in columns]
    result = pd.DataFrame(columns).assign(**{c: frame[c] for c in extra})
    if "stage" in columns:
        unknown = result["stage"].dropna()
        unknown = unknown[~unknown.isin(STAGES)]
        if len(unknown):
            raise SiteSageError(
                f"sitesage {endpoint}: field 'stage' has value(s) outside "
                f"{'|'.join(STAGES)}: {sorted(set(unknown))[:5]}",
                endpoint=endpoint,
            )
    return result

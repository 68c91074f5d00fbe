"""A compact JSON document per device, fit for an LLM prompt or an API response.

No raw rows: small tables (per-stage results) are kept as records, larger ones
are described by shape and columns only, so a document stays a few KB.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshinsights.data_object import PipelineDataObject

#: Tables up to this many rows are included as records; larger ones are summarized.
MAX_TABLE_ROWS = 20
MAX_MESSAGES = 20


def to_jsonable(value: Any) -> Any:
    """JSON-safe form of artifact values (numpy scalars, timestamps, NaN, sets)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    item = getattr(value, "item", None)  # numpy and pandas scalars
    if callable(item):
        try:
            return to_jsonable(item())
        except (TypeError, ValueError):
            pass
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamp / NaT
    if callable(isoformat):
        text = isoformat()
        return None if text == "NaT" else text
    if type(value).__name__ in {"NAType", "NaTType"}:
        return None
    return repr(value)


def _table(frame: Any) -> dict[str, Any]:
    described: dict[str, Any] = {"rows": len(frame), "columns": [str(c) for c in frame.columns]}
    if len(frame) <= MAX_TABLE_ROWS:
        described["records"] = to_jsonable(frame.to_dict(orient="records"))
    return described


def convert_data_for_ai(data_object: PipelineDataObject) -> dict[str, Any]:
    """Status, per-step results, issues, errors and warnings of one device."""
    import pandas as pd

    artifacts: dict[str, Any] = {}
    for key in sorted(data_object.artifacts):
        value = data_object.artifacts[key]
        artifacts[key] = _table(value) if isinstance(value, pd.DataFrame) else to_jsonable(value)
    return {
        "device_id": data_object.device_id,
        "pipeline": data_object.pipeline_name,
        "status": data_object.status,
        "artifacts": artifacts,
        "errors": [m.message for m in data_object.errors[:MAX_MESSAGES]],
        "warnings": [m.message for m in data_object.warnings[:MAX_MESSAGES]],
        "n_errors": len(data_object.errors),
        "n_warnings": len(data_object.warnings),
    }

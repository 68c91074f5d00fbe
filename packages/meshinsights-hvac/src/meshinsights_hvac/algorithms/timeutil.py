"""Timestamps as int64 nanoseconds, whatever unit pandas stored them in."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S


def ts_ns(series: pd.Series) -> np.ndarray:
    """int64 nanoseconds since the epoch (UTC) of a datetime column, without object arrays."""
    array = series.array
    unit = getattr(array, "unit", "ns")
    values = np.asarray(array.asi8, dtype=np.int64)
    factor = _NS_PER_UNIT[unit]
    return values * factor if factor != 1 else values


def sampling_interval_ns(ts: np.ndarray) -> int | None:
    """The median step between consecutive timestamps; None with fewer than two rows."""
    if len(ts) < 2:
        return None
    step = int(np.median(np.diff(ts)))
    return step if step > 0 else None


def from_ns(values: np.ndarray, unit: Any = "us") -> pd.DatetimeIndex:
    """UTC datetimes of the given unit from int64 nanoseconds."""
    return pd.DatetimeIndex(values.astype("datetime64[ns]"), tz="UTC").as_unit(unit)

"""Timestamps as int64 nanoseconds, whatever unit pandas stored them in."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S


def ts_ns(values: Any) -> np.ndarray:
    """int64 nanoseconds since the epoch (UTC) of a datetime column (a Series or its array),
    without object arrays."""
    array: Any = values.array if isinstance(values, pd.Series) else values
    unit = getattr(array, "unit", "ns")
    i8 = np.asarray(array.asi8, dtype=np.int64)
    factor = _NS_PER_UNIT[unit]
    return i8 * factor if factor != 1 else i8


def sampling_interval_ns(ts: np.ndarray) -> int | None:
    """The median step between consecutive timestamps; None with fewer than two rows."""
    if len(ts) < 2:
        return None
    step = int(_median_of_ints(ts[1:] - ts[:-1]))
    return step if step > 0 else None


#: Values sampled for the median's first guess.
_SAMPLE = 255


def _median_of_ints(values: np.ndarray) -> float:
    """``np.median`` of a non-empty int64 array: the middle value, or the mean of the two
    middle values taken as float64 (numpy's own arithmetic).

    Steps between samples are nearly all one value, and numpy's selection is
    slow on such data on some CPUs (x86-simd-sort on AMD Zen 4: ~75 ms for a
    year of 1-minute steps, where counting takes under 1 ms). So the median of
    a strided sample is tried first and proved by counting (it is the median
    when the middle positions fall among its copies); otherwise, a full sort.
    """
    n = len(values)
    low, high = (n - 1) // 2, n // 2  # the middle positions once sorted
    sample = np.sort(values[:: max(1, n // _SAMPLE)])
    guess = sample[len(sample) // 2]
    below = int(np.count_nonzero(values < guess))
    if below <= low and high < below + int(np.count_nonzero(values == guess)):
        return float(guess)
    ordered = np.sort(values)
    if low == high:
        return float(ordered[low])
    return (float(ordered[low]) + float(ordered[high])) / 2.0


def from_ns(values: np.ndarray, unit: Any = "us") -> pd.DatetimeIndex:
    """UTC datetimes of the given unit from int64 nanoseconds."""
    return pd.DatetimeIndex(values.astype("datetime64[ns]"), tz="UTC").as_unit(unit)


_UTC_NS = pd.DatetimeTZDtype(unit="ns", tz="UTC")
_UTC_DTYPES = {unit: pd.DatetimeTZDtype(unit=cast(Any, unit), tz="UTC") for unit in _NS_PER_UNIT}


def utc_array(values: np.ndarray, unit: Any = "us") -> pd.api.extensions.ExtensionArray:
    """``from_ns(values, unit).array`` without building an Index (the same conversion).

    When every value is a whole number of ``unit`` (the usual case: they came from
    data in that unit) the division is exact and the array is made directly.
    """
    array_type: Any = pd.arrays.DatetimeArray
    make = getattr(array_type, "_simple_new", None)
    if make is None or unit not in _UTC_DTYPES:  # another pandas layout, another unit
        return from_ns(values, unit).array
    i8 = np.asarray(values, dtype=np.int64)
    factor = _NS_PER_UNIT[unit]
    if factor == 1 or not (i8 % factor).any():
        direct: pd.api.extensions.ExtensionArray = make(
            (i8 // factor).view(f"datetime64[{unit}]"), dtype=_UTC_DTYPES[unit]
        )
        return direct
    ns = make(i8.view("datetime64[ns]"), dtype=_UTC_NS)
    converted: pd.api.extensions.ExtensionArray = ns.as_unit(unit)
    return converted

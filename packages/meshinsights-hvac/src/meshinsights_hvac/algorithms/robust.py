"""Robust statistics per group: medians and MADs, all in compiled groupby code."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: MAD * 1.4826 estimates the standard deviation of normal data.
MAD_TO_SIGMA = 1.4826
#: Iglewicz & Hoaglin's constant of the modified z-score.
MODIFIED_Z_CONSTANT = 0.6745


def group_median(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per integer group 0..n_groups-1 (NaN for empty groups)."""
    values = np.asarray(values)
    if len(values) == 0 or n_groups == 0:
        return np.full(n_groups, np.nan)
    if len(values) <= _SMALL:
        return _sorted_median(values, groups, n_groups)
    out = np.full(n_groups, np.nan)
    medians = pd.Series(values).groupby(groups, sort=False).median()
    out[medians.index.to_numpy(dtype=np.int64)] = medians.to_numpy(dtype=float)
    return out


#: Below this many values a numpy sort beats pandas' groupby set-up cost.
_SMALL = 8192
_INT16_MAX = int(np.iinfo(np.int16).max)


def _sorted_median(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Group medians from one sort by (group, value); NaN values are ignored."""
    present = _present(values, np.asarray(groups))
    if present is None:
        return np.full(n_groups, np.nan)
    values, groups = present
    return _Middles(groups, n_groups).median(values, groups)


def _present(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The values that are not NaN and their groups; None when there is none."""
    missing = np.isnan(values)
    if missing.any():
        keep = ~missing
        values, groups = values[keep], groups[keep]
        if len(values) == 0:
            return None
    return values, groups


class _Middles:
    """Where each group's middle values sit once values are ordered by (group, value):
    the same for every set of values over the same groups (a median, then a MAD)."""

    __slots__ = ("high", "low", "n_groups", "seen")

    def __init__(self, groups: np.ndarray, n_groups: int) -> None:
        counts = np.bincount(groups, minlength=n_groups)[:n_groups]
        ends = counts.cumsum()  # a group's values are ordered[ends - counts : ends]
        self.low = ends - (counts + 2) // 2  # its start + (count - 1) // 2
        self.high = ends - (counts + 1) // 2  # its start + count // 2
        self.seen = counts > 0
        self.n_groups = n_groups

    def median(self, values: np.ndarray, groups: np.ndarray) -> np.ndarray:
        ordered = values[_group_value_order(values, groups, self.n_groups)]
        # an empty group's positions may fall outside: clipped, and masked below
        middle = ordered.take(self.low, mode="clip") + ordered.take(self.high, mode="clip")
        medians: np.ndarray = np.where(self.seen, middle / 2.0, np.nan)
        return medians


def _group_value_order(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Positions sorted by (group, value): the order of ``np.lexsort((values, groups))`` up to
    ties of equal values. A value sort then a stable sort of narrow group codes (numpy's radix
    sort for 16-bit integers) is about twice as fast as lexsort."""
    if n_groups > _INT16_MAX:
        order: np.ndarray = np.lexsort((values, groups))
        return order
    by_value = values.argsort()
    narrow = groups.astype(np.int16, copy=False)[by_value]
    return np.asarray(by_value[narrow.argsort(kind="stable")])


def group_median_mad(
    values: np.ndarray, groups: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Median and median absolute deviation per group."""
    values, groups = np.asarray(values), np.asarray(groups)
    if 0 < len(values) <= _SMALL and n_groups > 0:
        # both medians over the same groups and the same (non-NaN) values: one layout
        present = _present(values, groups)
        if present is None:
            return np.full(n_groups, np.nan), np.full(n_groups, np.nan)
        values, groups = present
        middles = _Middles(groups, n_groups)
        median = middles.median(values, groups)
        deviations = _present(np.abs(values - median[groups]), groups)  # inf - inf is NaN
        if deviations is None:
            return median, np.full(n_groups, np.nan)
        if len(deviations[0]) < len(values):
            middles = _Middles(deviations[1], n_groups)
        return median, middles.median(*deviations)
    median = group_median(values, groups, n_groups)
    if len(values) == 0:
        return median, np.full(n_groups, np.nan)
    mad = group_median(np.abs(values - median[groups]), groups, n_groups)
    return median, mad


def robust_cv(median: np.ndarray, mad: np.ndarray) -> np.ndarray:
    """1.4826 * MAD / median; 0 where the median is 0 and so is the MAD, else NaN/inf-free."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = MAD_TO_SIGMA * mad / median
    cv = np.where((median == 0) & (mad == 0), 0.0, cv)
    return np.where(np.isfinite(cv), cv, np.nan)


def classify(cv: np.ndarray, stable: float, moderate: float) -> np.ndarray:
    """Codes 0 stable (<= stable), 1 moderate (<= moderate), 2 unstable (above, or unknown)."""
    codes: np.ndarray = np.where(cv <= stable, 0, np.where(cv <= moderate, 1, 2)).astype(np.int8)
    return codes


_FLOAT_MAX = float(np.finfo(np.float64).max)


def nan_to_zero(values: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(values)`` of a float64 array (NaN -> 0, +-inf -> +-largest float),
    in three ufunc calls instead of its Python layers."""
    out: np.ndarray = np.where(np.isnan(values), 0.0, values)
    np.maximum(out, -_FLOAT_MAX, out=out)
    np.minimum(out, _FLOAT_MAX, out=out)
    return out

"""pandera schemas of the normalized dataset and of every DataFrame artifact.

:class:`FastSchema` is a ``pandera.DataFrameSchema`` that first runs the
schema's own column rules (presence, dtype, nullability, uniqueness and the
built-in value checks used here) as a handful of vectorized numpy operations.
A frame that passes them is exactly a frame pandera would accept; anything
else, or any rule the pre-check does not know, goes through pandera's full
validation, so a failure is still reported check by check. This keeps
validation of every artifact within the chain's time budget (pandera's own
per-column overhead is about a millisecond).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine

from meshinsights_hvac.algorithms.frames import column_names
from meshinsights_hvac.params import STAGES

STAGE_DTYPE = pd.CategoricalDtype(list(STAGES))
REJECT_REASONS: tuple[str, ...] = ("too_short", "too_few_samples", "no_power")
REJECT_DTYPE = pd.CategoricalDtype(list(REJECT_REASONS))
VARIANCE_CLASSES: tuple[str, ...] = ("stable", "moderate", "unstable")
CLASS_DTYPE = pd.CategoricalDtype(list(VARIANCE_CLASSES))

_UTC_CHECK_NAME = "utc_datetime"


def _is_utc(series: Any) -> bool:
    dtype = series.dtype
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) in ("UTC", "utc")


def utc_datetime() -> pa.Check:
    """Column check: tz-aware UTC datetimes of any unit (pandas 3 defaults to microseconds)."""
    return pa.Check(_is_utc, name=_UTC_CHECK_NAME, error="must be a tz-aware UTC datetime")


def _column_arrays(frame: pd.DataFrame) -> Callable[[str], Any]:
    """Column name -> stored array (no Series, no hash engine on the columns Index is built)."""
    positions = {name: i for i, name in enumerate(column_names(frame))}
    mgr = getattr(frame, "_mgr", None)
    if mgr is not None and hasattr(mgr, "iget_values"):
        return lambda name: mgr.iget_values(positions[name])
    return lambda name: frame[name].array


def _has_missing(values: Any) -> bool:
    """Any missing value, read from the storage (NaN, category code -1, Arrow nulls)."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "f":
            return bool(np.isnan(values).any())
        if values.dtype.kind in "iub":
            return False
        return bool(pd.isna(values).any())
    if isinstance(values, pd.Categorical):
        return bool((values.codes < 0).any())
    arrow = getattr(values, "_pa_array", None)
    if arrow is not None:
        return bool(arrow.null_count)
    return bool(np.asarray(values.isna()).any())


def _is_unique(values: Any) -> bool:
    """No value repeated (missing values count as equal: stricter than pandera, never looser)."""
    if len(values) < 2:
        return True
    if isinstance(values, pd.Categorical):
        values = values.codes
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub":
        ordered = np.sort(values)
        return not bool(np.any(ordered[1:] == ordered[:-1]))
    arrow = getattr(values, "_pa_array", None)
    if arrow is not None:
        import pyarrow.compute as pc

        return int(pc.count_distinct(arrow, mode="all").as_py()) == len(values)
    return bool(pd.Index(values).is_unique)


def _check_ok(check: pa.Check, values: Any) -> bool | None:
    """True/False for the checks we know; None for anything else (use pandera)."""
    name = check.name
    if name == _UTC_CHECK_NAME:
        return _is_utc(values)
    stats = check.statistics or {}
    if name == "isin":
        series = pd.Series(values, copy=False)
        present = series[series.notna()]
        return bool(present.isin(list(stats["allowed_values"])).all())
    if not (isinstance(values, np.ndarray) and values.dtype.kind in "fiu"):
        return None
    # NaN compares False both ways: missing values pass
    if name == "greater_than_or_equal_to":
        return not bool(np.any(values < stats["min_value"]))
    if name == "less_than_or_equal_to":
        return not bool(np.any(values > stats["max_value"]))
    if name == "greater_than":
        return not bool(np.any(values <= stats["min_value"]))
    if name == "less_than":
        return not bool(np.any(values >= stats["max_value"]))
    return None


_DTYPE_VERDICTS: dict[tuple[int, Any], bool] = {}


def _dtype_ok(expected: Any, actual: Any) -> bool:
    """pandera's own dtype check, remembered per (schema dtype, frame dtype)."""
    key = (id(expected), actual)
    verdict = _DTYPE_VERDICTS.get(key)
    if verdict is None:
        try:
            verdict = bool(expected.check(pandas_engine.Engine.dtype(actual)))
        except (TypeError, ValueError):
            verdict = False
        if len(_DTYPE_VERDICTS) < 4096:
            _DTYPE_VERDICTS[key] = verdict
    return verdict


class FastSchema(pa.DataFrameSchema):  # type: ignore[misc]
    """A pandera DataFrameSchema with a vectorized pre-check (see the module docstring)."""

    @classmethod
    def get_backend(cls, check_obj: Any = None, check_type: Any = None) -> Any:
        return pa.DataFrameSchema.get_backend(check_obj, check_type)

    def validate(self, check_obj: Any, *args: Any, **kwargs: Any) -> Any:
        if self.passes(check_obj):
            return check_obj
        return super().validate(check_obj, *args, **kwargs)

    def passes(self, frame: Any) -> bool:
        """True only when pandera's full validation would accept ``frame`` unchanged."""
        if not isinstance(frame, pd.DataFrame) or self.checks or self.coerce or self.strict:
            return False
        if self.unique or (self.index is not None and not isinstance(frame.index, pd.RangeIndex)):
            return False
        names = column_names(frame)  # iterating an Arrow-backed Index is slow
        present = set(names)
        if len(present) != len(names):  # Index.has_duplicates builds a hash table
            return False
        column_array = _column_arrays(frame)
        for name, column in self.columns.items():
            if name not in present:
                if column.required:
                    return False
                continue
            if column.coerce or column.regex:
                return False
            if not self._column_passes(column, column_array(name)):
                return False
        return True

    @staticmethod
    def _column_passes(column: Any, values: Any) -> bool:
        if column.dtype is not None and not _dtype_ok(column.dtype, values.dtype):
            return False
        if not column.nullable and _has_missing(values):
            return False
        if column.unique and not _is_unique(values):
            return False
        for check in column.checks:
            if getattr(check, "ignore_na", True) is False:
                return False
            verdict = _check_ok(check, values)
            if not verdict:  # False, or None for a check the pre-check does not know
                return False
        return True


def _ts(nullable: bool = False) -> pa.Column:
    return pa.Column(checks=[utc_datetime()], nullable=nullable)


def _kw(nullable: bool = False) -> pa.Column:
    return pa.Column(float, pa.Check.ge(0), nullable=nullable)


def _stage(nullable: bool = False) -> pa.Column:
    return pa.Column(STAGE_DTYPE, nullable=nullable)


def _str(nullable: bool = False) -> pa.Column:
    return pa.Column(str, nullable=nullable)


def _count() -> pa.Column:
    return pa.Column("int64", pa.Check.ge(0))


def _class() -> pa.Column:
    return pa.Column(CLASS_DTYPE)


HVAC_POWER_SCHEMA = FastSchema(
    {
        "timestamp": pa.Column(checks=[utc_datetime()], unique=True),
        "power_kw": _kw(),
        "stage": _stage(),
        "cycle_id": _str(nullable=True),
    },
    name="hvac_power",
)

CYCLE_SUMMARY_SCHEMA = FastSchema(
    {
        "cycle_id": pa.Column(str, unique=True),
        "stage": _stage(),
        "staged_from": _stage(nullable=True),
        "call_id": _count(),
        "start": _ts(),
        "end": _ts(),
        "duration_min": _kw(),
        "n_rows": _count(),
        "n_samples": _count(),
        "median_kw": _kw(nullable=True),
        "mad_kw": _kw(nullable=True),
        "off_before_min": pa.Column(float, nullable=True),
        "valid": pa.Column(bool),
        "reject_reason": pa.Column(REJECT_DTYPE, nullable=True),
        "short_cycle": pa.Column(bool),
    },
    name="cycles/summary",
)

FILTERED_DATA_SCHEMA = FastSchema(
    {
        "timestamp": _ts(),
        "power_kw": _kw(),
        "stage": _stage(),
        "cycle_id": _str(),
    },
    name="cycles/filtered_data",
)

SUFFICIENCY_SCHEMA = FastSchema(
    {
        "stage": pa.Column(STAGE_DTYPE, unique=True),
        "n_cycles": _count(),
        "n_valid_cycles": _count(),
        "n_filtered_samples": _count(),
        "coverage": pa.Column(float, pa.Check.ge(0), nullable=True),
        "sufficient": pa.Column(bool),
    },
    name="cycles/sufficiency",
)

VARIANCE_FILTERED_SCHEMA = FastSchema(
    {
        "stage": pa.Column(STAGE_DTYPE, unique=True),
        "n_samples": _count(),
        "n_cycles": _count(),
        "median_kw": _kw(),
        "mad_kw": _kw(),
        "within_cycle_cv": _kw(),
        "variance_class": _class(),
    },
    name="variance/filtered_data",
)

CYCLE_MEDIANS_SCHEMA = FastSchema(
    {
        "cycle_id": pa.Column(str, unique=True),
        "stage": _stage(),
        "start": _ts(),
        "duration_min": _kw(),
        "median_kw": _kw(),
        "n_samples": _count(),
        "within_cycle_cv": _kw(),
    },
    name="cycles/medians",
)

CYCLE_MEDIANS_OUTLIER_SCHEMA = FastSchema(
    {
        **CYCLE_MEDIANS_SCHEMA.columns,
        "modified_z": pa.Column(float, nullable=True),
        "outlier": pa.Column(bool),
    },
    name="cycles/medians",
)

VARIANCE_CYCLE_MEDIANS_SCHEMA = FastSchema(
    {
        "stage": pa.Column(STAGE_DTYPE, unique=True),
        "n_cycles": _count(),
        "median_kw": _kw(),
        "mad_kw": _kw(),
        "robust_cv": _kw(),
        "n_outliers": _count(),
        "cycle_median_class": _class(),
    },
    name="variance/cycle_medians",
)

THRESHOLDS_SCHEMA = FastSchema(
    {
        "stage": pa.Column(STAGE_DTYPE, unique=True),
        "baseline_kw": _kw(),
        "mad_kw": _kw(),
        "band_kw": _kw(),
        "lower_kw": _kw(),
        "upper_kw": _kw(),
        "n_cycles_used": _count(),
    },
    name="baseline/thresholds_table",
)

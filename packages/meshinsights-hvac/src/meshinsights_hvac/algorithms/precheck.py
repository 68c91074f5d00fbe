"""FastSchema: a pandera DataFrameSchema with a vectorized pre-check of its own rules.

The pre-check runs the schema's column rules (presence, dtype, nullability,
uniqueness and the built-in value checks used here) as about one numpy
reduction per column. A frame that passes is exactly a frame pandera would
accept; anything else, or any rule the pre-check does not know, goes through
pandera's full validation, so a failure is still reported check by check.

Each column's rules are read out of its pandera ``Column`` once, and the work
for a column is chosen once per dtype object it meets (dtype check included):
a device's chain validates eight small tables, so the cost per column, not
per row, is what counts (pandera's own is about a millisecond per column).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine

from meshinsights_hvac.algorithms.frames import column_names, frame_arrays
from meshinsights_hvac.algorithms.text import text_is_unique

UTC_CHECK_NAME = "utc_datetime"
_NAT = int(np.iinfo(np.int64).min)
_LOWER = {"greater_than_or_equal_to": ("min_value", False), "greater_than": ("min_value", True)}
_UPPER = {"less_than_or_equal_to": ("max_value", False), "less_than": ("max_value", True)}


def is_utc(values: Any) -> bool:
    """Tz-aware UTC datetimes of any unit."""
    return _is_utc_dtype(values.dtype)


def _is_utc_dtype(dtype: Any) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) in ("UTC", "utc")


def utc_datetime() -> pa.Check:
    """Column check: tz-aware UTC datetimes of any unit (pandas 3 defaults to microseconds)."""
    return pa.Check(is_utc, name=UTC_CHECK_NAME, error="must be a tz-aware UTC datetime")


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


#: Up to this many values a Python set beats a numpy sort.
_FEW = 32


def _is_unique(values: Any) -> bool:
    """No value repeated (missing values count as equal: stricter than pandera, never looser)."""
    if len(values) < 2:
        return True
    if isinstance(values, pd.Categorical):
        values = values.codes
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub":
        if len(values) <= _FEW:
            return len(set(values.tolist())) == len(values)
        ordered = np.sort(values)
        return not (ordered[1:] == ordered[:-1]).any()
    unique = text_is_unique(values)  # Arrow-backed: nulls count as one value
    if unique is not None:
        return unique
    return bool(pd.Index(values).is_unique)


def _check_ok(check: pa.Check, values: Any) -> bool | None:
    """True/False for the checks we know; None for anything else (use pandera)."""
    name = check.name
    if name == UTC_CHECK_NAME:
        return is_utc(values)
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


_DTYPE_VERDICTS: dict[tuple[int, Any], tuple[Any, bool]] = {}


def _dtype_ok(expected: Any, actual: Any) -> bool:
    """pandera's own dtype check, remembered per (schema dtype, frame dtype); the schema
    dtype is kept with its verdict, so a later object reusing its id is not taken for it."""
    key = (id(expected), actual)
    known = _DTYPE_VERDICTS.get(key)
    if known is not None and known[0] is expected:
        return known[1]
    try:
        verdict = bool(expected.check(pandas_engine.Engine.dtype(actual)))
    except (TypeError, ValueError):
        verdict = False
    if len(_DTYPE_VERDICTS) >= 4096:
        _DTYPE_VERDICTS.clear()
    _DTYPE_VERDICTS[key] = (expected, verdict)
    return verdict


_Check = Callable[[Any], bool]
_UNKNOWN: Any = object()


class _Rule:
    """One column's rules, read out of its pandera Column once."""

    __slots__ = ("by_dtype", "by_value", "column", "dtype", "highs", "lows", "name", "nullable", "others",
                 "required", "unique", "utc")

    def __init__(self, name: Any, column: Any) -> None:
        self.name = name
        self.column = column
        self.required = bool(column.required)
        self.dtype = column.dtype
        self.nullable = bool(column.nullable)
        self.unique = bool(column.unique)
        self.utc = False
        self.lows: list[tuple[Any, bool]] = []
        self.highs: list[tuple[Any, bool]] = []
        self.others: list[pa.Check] = []
        for check in column.checks:
            stats = check.statistics or {}
            if check.name == UTC_CHECK_NAME:
                self.utc = True
            elif check.name in _LOWER and _LOWER[check.name][0] in stats:
                key, strict = _LOWER[check.name]
                self.lows.append((stats[key], strict))
            elif check.name in _UPPER and _UPPER[check.name][0] in stats:
                key, strict = _UPPER[check.name]
                self.highs.append((stats[key], strict))
            else:
                self.others.append(check)
        # dtype object -> (that dtype, the check for its values, or None when it fails)
        self.by_dtype: dict[int, tuple[Any, _Check | None]] = {}
        self.by_value: dict[Any, _Check | None] = {}

    @staticmethod
    def usable(column: Any) -> bool:
        """False for rules the pre-check cannot judge (coercion, regex, strict NaN checks)."""
        return not (column.coerce or column.regex) and all(
            getattr(check, "ignore_na", True) is not False for check in column.checks
        )

    def passes(self, values: Any) -> bool:
        """True only when pandera would accept this column's ``values`` as they are."""
        dtype = values.dtype
        known = self.by_dtype.get(id(dtype))
        if known is None or known[0] is not dtype:
            known = self._learn(dtype)
        check = known[1]
        return check is not None and check(values)

    def _learn(self, dtype: Any) -> tuple[Any, _Check | None]:
        """The check for values of ``dtype`` (None if the dtype itself fails), remembered
        by identity, and by value for equal dtype objects made anew."""
        check: Any
        try:
            check = self.by_value.get(dtype, _UNKNOWN)
        except TypeError:  # an unhashable dtype
            check = _UNKNOWN
        if check is _UNKNOWN:
            check = self._check_for(dtype)
            if len(self.by_value) >= 64:
                self.by_value.clear()
            with contextlib.suppress(TypeError):  # an unhashable dtype
                self.by_value[dtype] = check
        if len(self.by_dtype) >= 64:
            self.by_dtype.clear()
        known = (dtype, check)
        self.by_dtype[id(dtype)] = known
        return known

    def _check_for(self, dtype: Any) -> _Check | None:
        ok = self.dtype is None or _dtype_ok(self.dtype, dtype)
        check: _Check | None = None
        if ok and not (self.utc and not _is_utc_dtype(dtype)):
            if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
                check = self._numbers_f if dtype.kind == "f" else self._numbers_i
            elif isinstance(dtype, pd.CategoricalDtype):
                check = self._categories
            elif isinstance(dtype, pd.DatetimeTZDtype):
                check = self._datetimes
            elif isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
                check = self._arrow_text
            else:
                check = self._generic
            if self.others and check is not self._generic:
                check = self._with_others(check)
        return check

    def _with_others(self, check: _Check) -> _Check:
        def checked(values: Any) -> bool:
            return check(values) and all(_check_ok(c, values) for c in self.others)

        return checked

    # One reduction per side covers the bounds and, for a float column that must be
    # complete, the missing values too: any NaN makes the plain minimum NaN.
    def _numbers_f(self, values: Any) -> bool:
        if not isinstance(values, np.ndarray):
            return self._generic(values)
        if not len(values):
            return True
        if self.unique and not _is_unique(values):
            return False
        if self.nullable:  # missing values pass: NaN-skipping reductions
            if self.lows:
                low = np.fmin.reduce(values)
                if not _above(low, self.lows):
                    return False
            return not self.highs or _below(np.fmax.reduce(values), self.highs)
        low = np.minimum.reduce(values)
        if low != low or not _above(low, self.lows):
            return False
        return not self.highs or _below(np.maximum.reduce(values), self.highs)

    def _numbers_i(self, values: Any) -> bool:
        if not isinstance(values, np.ndarray):
            return self._generic(values)
        if not len(values):
            return True
        if self.unique and not _is_unique(values):
            return False
        if self.lows and not _above(np.minimum.reduce(values), self.lows):
            return False
        return not self.highs or _below(np.maximum.reduce(values), self.highs)

    def _categories(self, values: Any) -> bool:
        if not isinstance(values, pd.Categorical):
            return self._generic(values)
        return self._codes(values.codes, -1)  # a missing value is any negative code

    def _datetimes(self, values: Any) -> bool:
        if not isinstance(values, pd.arrays.DatetimeArray):
            return self._generic(values)
        datetimes: Any = values
        return self._codes(datetimes.asi8, _NAT)  # NaT is the smallest int64

    def _codes(self, codes: np.ndarray, missing: int) -> bool:
        if self.lows or self.highs:
            return False
        if not len(codes):
            return True
        if not self.nullable and np.minimum.reduce(codes) <= missing:
            return False
        return not self.unique or _is_unique(codes)

    def _arrow_text(self, values: Any) -> bool:
        arrow = getattr(values, "_pa_array", None)
        if arrow is None:
            return self._generic(values)
        if self.lows or self.highs:
            return False
        if not self.nullable and arrow.null_count:
            return False
        # nulls count as one value: stricter than pandera, never looser
        return not self.unique or bool(text_is_unique(values))

    def _generic(self, values: Any) -> bool:
        if not self.nullable and _has_missing(values):
            return False
        if self.unique and not _is_unique(values):
            return False
        for check in self.column.checks:
            if check.name != UTC_CHECK_NAME and not _check_ok(check, values):
                return False  # False, or None for a check the pre-check does not know
        return True


# A loop, not all(<generator>): a column has a bound or two, and a generator costs more.
def _above(low: Any, bounds: list[tuple[Any, bool]]) -> bool:
    """The smallest value against every lower bound (NaN, all missing, passes)."""
    ok = True
    for bound, strict in bounds:
        ok = ok and not (low < bound or (strict and low == bound))
    return ok


def _below(high: Any, bounds: list[tuple[Any, bool]]) -> bool:
    ok = True
    for bound, strict in bounds:
        ok = ok and not (high > bound or (strict and high == bound))
    return ok


class _Plan:
    """A schema's rules, and for each columns layout met the (position, rule) pairs."""

    __slots__ = ("columns", "layouts", "names", "rules", "schema")

    def __init__(self, schema: Any, names: tuple[Any, ...], columns: tuple[Any, ...]) -> None:
        self.schema = schema
        self.names = names
        self.columns = columns
        self.rules = ([_Rule(n, c) for n, c in zip(names, columns, strict=True)]
                      if all(_Rule.usable(c) for c in columns) else None)
        self.layouts: dict[int, tuple[list[Any], list[tuple[int, _Rule]] | None]] = {}

    def matches(self, schema: Any, names: tuple[Any, ...], columns: tuple[Any, ...]) -> bool:
        return (self.schema is schema and self.names == names
                and all(map(operator.is_, self.columns, columns)))

    def layout(self, frame_names: list[Any]) -> list[tuple[int, _Rule]] | None:
        """(position, rule) of every schema column present; None when a required column is
        missing or a name is repeated (``column_names`` hands out one list per layout)."""
        known = self.layouts.get(id(frame_names))
        if known is not None and known[0] is frame_names:
            return known[1]
        assert self.rules is not None
        positions = {name: i for i, name in enumerate(frame_names)}
        pairs: list[tuple[int, _Rule]] | None = []
        if len(positions) != len(frame_names):
            pairs = None
        else:
            for rule in self.rules:
                position = positions.get(rule.name)
                if position is None:
                    if rule.required:
                        pairs = None
                        break
                    continue
                pairs.append((position, rule))  # type: ignore[union-attr]
        if len(self.layouts) >= 64:
            self.layouts.clear()
        self.layouts[id(frame_names)] = (frame_names, pairs)
        return pairs


_PLANS: dict[int, _Plan] = {}
#: id of a module-level schema -> (module, name): they live as long as their module.
_PUBLISHED: dict[int, tuple[str, str]] = {}


def published_schema(module: str, name: str) -> FastSchema:
    """The module-level schema ``module.name``: how a published schema is unpickled."""
    schema = getattr(importlib.import_module(module), name)
    if not isinstance(schema, FastSchema):
        raise TypeError(f"{module}.{name} is not a FastSchema")
    return schema


class FastSchema(pa.DataFrameSchema):  # type: ignore[misc]
    """A pandera DataFrameSchema with a vectorized pre-check (see the module docstring).

    A schema published under a module-level name (:meth:`publish`) pickles as
    that name: every data object sent to or from a worker process carries its
    artifacts' schemas, and by value they cost about 1 ms per device there and
    back. Copies (``copy.copy``, ``deepcopy``, pandera's ``add_columns`` and
    the like) are ordinary, unpublished schemas.
    """

    def publish(self, module: str, name: str) -> None:
        """Pickle this schema as ``module.name``, which must be this very object."""
        if getattr(importlib.import_module(module), name, None) is not self:
            raise ValueError(f"{module}.{name} is not this schema")
        _PUBLISHED[id(self)] = (module, name)

    def __reduce_ex__(self, protocol: Any) -> Any:
        published = _PUBLISHED.get(id(self))
        if published is not None:
            return (published_schema, published)
        return super().__reduce_ex__(protocol)

    # Copies are new, unpublished schemas (pickling by name would hand back this one).
    def __copy__(self) -> FastSchema:
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def __deepcopy__(self, memo: dict[int, Any]) -> FastSchema:
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    @classmethod
    def get_backend(cls, check_obj: Any = None, check_type: Any = None) -> Any:
        return pa.DataFrameSchema.get_backend(check_obj, check_type)

    def validate(self, check_obj: Any, *args: Any, **kwargs: Any) -> Any:
        if self.passes(check_obj):
            return check_obj
        return super().validate(check_obj, *args, **kwargs)

    def _plan(self) -> _Plan:
        """The rules, read once per set of Column objects."""
        names, columns = tuple(self.columns), tuple(self.columns.values())
        plan = _PLANS.get(id(self))
        if plan is None or not plan.matches(self, names, columns):
            if len(_PLANS) >= 256:
                _PLANS.clear()
            plan = _PLANS[id(self)] = _Plan(self, names, columns)
        return plan

    def passes(self, frame: Any) -> bool:
        """True only when pandera's full validation would accept ``frame`` unchanged."""
        if not isinstance(frame, pd.DataFrame) or self.checks or self.coerce or self.strict:
            return False
        if self.unique or (self.index is not None and not isinstance(frame.index, pd.RangeIndex)):
            return False
        plan = self._plan()
        if plan.rules is None:
            return False
        pairs = plan.layout(column_names(frame))  # iterating an Arrow-backed Index is slow
        if pairs is None:
            return False
        arrays = frame_arrays(frame)
        try:
            for position, rule in pairs:
                values = arrays[position] if arrays is not None else frame.iloc[:, position].array
                if not rule.passes(values):
                    return False
        except (TypeError, ValueError):  # a bound of another type than the column
            return False
        return True

"""Small result tables built in one step, and arrays shared between the chain's processors.

A processor's tables are a few rows of fresh numpy/extension arrays; building
them through ``pd.DataFrame(dict)`` sanitizes every column again, which is
most of a small device's cost. Arrays a processor already computed for an
artifact are remembered next to it, so the next processors need not read
them back out of the DataFrame; they are used only while that very object is
still the artifact stored under its key.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import pandas as pd

_SHARED: weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, Any]]] = (
    weakref.WeakKeyDictionary()
)


_COLUMN_INDEXES: dict[tuple[str, ...], pd.Index] = {}


def _column_index(names: tuple[str, ...]) -> pd.Index:
    """The columns Index of a table layout, built once (an Index is immutable)."""
    index = _COLUMN_INDEXES.get(names)
    if index is None:
        index = pd.Index(list(names))
        if len(_COLUMN_INDEXES) < 256:
            _COLUMN_INDEXES[names] = index
    return index


_NAMES: dict[int, tuple[pd.Index, list[Any]]] = {}


def column_names(frame: pd.DataFrame) -> list[Any]:
    """``frame.columns.tolist()``, remembered per columns Index object (the tables built
    here share a few): converting an Arrow-backed Index costs tens of microseconds."""
    index = frame.columns
    known = _NAMES.get(id(index))
    if known is not None and known[0] is index:
        return known[1]
    names = index.tolist()
    if len(_NAMES) >= 256:
        _NAMES.clear()
    _NAMES[id(index)] = (index, names)
    return names


def build_frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame with a RangeIndex from fresh, equally long 1-D arrays (not copied again)."""
    arrays = list(columns.values())
    n = len(arrays[0]) if arrays else 0
    if any(len(a) != n for a in arrays):
        raise ValueError("build_frame: columns of different lengths")
    try:
        frame: pd.DataFrame = pd.DataFrame._from_arrays(  # type: ignore[attr-defined]
            arrays, columns=_column_index(tuple(columns)), index=pd.RangeIndex(n),
            verify_integrity=False,
        )
        return frame
    except (AttributeError, TypeError):  # another pandas internals layout
        return pd.DataFrame(dict(columns))


def column_values(frame: pd.DataFrame, name: str) -> Any:
    """The stored array of one column (numpy or extension array), without a Series."""
    mgr = getattr(frame, "_mgr", None)
    if mgr is None or not hasattr(mgr, "iget_values"):
        return frame[name].array
    for i, column in enumerate(column_names(frame)):
        if column == name:
            return mgr.iget_values(i)
    raise KeyError(name)


def share(data_object: Any, key: str, value: Any, arrays: dict[str, Any]) -> None:
    """Remember arrays computed for the artifact ``value`` stored under ``key``."""
    _SHARED.setdefault(data_object, {})[key] = (value, arrays)


def forget(data_object: Any) -> None:
    """Drop the arrays remembered for a data object (its chain is over: free the memory)."""
    _SHARED.pop(data_object, None)


def shared(data_object: Any, key: str) -> dict[str, Any] | None:
    """The arrays remembered for ``key``, if that artifact is still the same object."""
    entry = _SHARED.get(data_object, {}).get(key)
    if entry is None or data_object.artifacts.get(key) is not entry[0]:
        return None
    arrays: dict[str, Any] = entry[1]
    return arrays


"""Small result tables built in one step, and their columns read back without a Series.

A processor's tables are a few rows of fresh numpy/extension arrays; building
them through ``pd.DataFrame(dict)`` copies and sanitizes every column again,
and reading a column through ``frame[name]`` builds a Series: on a device of a
few thousand rows those layers are most of the cost. Tables are built with one
block per column, and the column arrays of a table are remembered while it
lives with the same blocks, so validation and the next processors read them
directly.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

_COLUMN_INDEXES: dict[tuple[str, ...], pd.Index] = {}


def _column_index(names: tuple[str, ...]) -> pd.Index:
    """The columns Index of a table layout, built once (an Index is immutable)."""
    index = _COLUMN_INDEXES.get(names)
    if index is None:
        index = pd.Index(list(names))
        if len(_COLUMN_INDEXES) < 256:
            _COLUMN_INDEXES[names] = index
    return index


_NAMES: dict[int, tuple[Any, list[Any]]] = {}


def column_names(frame: pd.DataFrame) -> list[Any]:
    """``frame.columns.tolist()``, remembered per columns storage (the tables built here
    share a few, and a shallow copy's columns are a view of the same storage): converting
    an Arrow-backed Index costs tens of microseconds."""
    index = frame.columns
    storage = getattr(index, "_data", index)  # an Index never changes its storage
    known = _NAMES.get(id(storage))
    if known is not None and known[0] is storage:
        return known[1]
    names = index.tolist()
    if len(_NAMES) >= 256:
        _NAMES.clear()
    _NAMES[id(storage)] = (storage, names)
    return names


def build_frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame with a RangeIndex from fresh, equally long 1-D arrays (not copied again).

    Each column becomes its own block, built directly: pandas' constructors
    would copy every numpy column into one consolidated block per dtype, which
    costs more than the rest of a small table's work. Any column of a kind not
    handled here (or another pandas internals layout) takes pandas' own path.
    """
    arrays = list(columns.values())
    lengths = set(map(len, arrays))
    if len(lengths) > 1:
        raise ValueError("build_frame: columns of different lengths")
    n = lengths.pop() if lengths else 0
    names = _column_index(tuple(columns))
    index = _range_index(n)
    frame = _from_blocks(arrays, names, index)
    if frame is not None:
        _remember_arrays(frame, arrays)  # what frame_arrays would read back out of the blocks
        return frame
    try:
        built: pd.DataFrame = pd.DataFrame._from_arrays(  # type: ignore[attr-defined]
            arrays, columns=names, index=index, verify_integrity=False,
        )
        return built
    except (AttributeError, TypeError):  # another pandas internals layout
        return pd.DataFrame(dict(columns))


def _range_index(n: int) -> pd.RangeIndex:
    """``pd.RangeIndex(n)`` without re-validating a Python int."""
    make = getattr(pd.RangeIndex, "_simple_new", None)
    if make is None:
        return pd.RangeIndex(n)
    index: pd.RangeIndex = make(range(n))
    return index


#: Frames are built on several threads at once (normalizers on the I/O threads, processors
#: in the consumer): the shared placements and ``_Internals`` are made under this lock.
_LOCK = threading.Lock()


class _Internals:
    """pandas' block classes, looked up once (None when this pandas lays them out otherwise)."""

    loaded = False
    numpy: Any = None
    datetime: Any = None
    extension: Any = None
    manager: Any = None
    placement: Any = None
    datetime_array: Any = None
    tz_dtype: Any = None
    extension_dtype: Any = None
    extension_array: Any = None

    @classmethod
    def load(cls) -> bool:
        if not cls.loaded:
            with _LOCK:
                if not cls.loaded:
                    cls._load()
        return cls.numpy is not None

    @classmethod
    def _load(cls) -> None:
        """Every attribute set before ``loaded``: another thread reads them once it is."""
        try:
            blocks = importlib.import_module("pandas.core.internals.blocks")
            managers = importlib.import_module("pandas.core.internals.managers")
            libinternals = importlib.import_module("pandas._libs.internals")
            cls.numpy, cls.datetime = blocks.NumpyBlock, blocks.DatetimeLikeBlock
            cls.extension, cls.manager = blocks.ExtensionBlock, managers.BlockManager
            cls.placement = libinternals.BlockPlacement
        except (ImportError, AttributeError):
            cls.numpy = None
        cls.datetime_array = pd.arrays.DatetimeArray
        cls.tz_dtype = pd.DatetimeTZDtype
        cls.extension_dtype = pd.api.extensions.ExtensionDtype
        cls.extension_array = pd.api.extensions.ExtensionArray
        cls.loaded = True


_PLACEMENTS: list[Any] = []


def _placements(n: int) -> list[Any]:
    """The block placements of columns 0..n-1 (immutable, so made once and shared).

    Grown under the lock: two threads appending the next position at once would
    both append the same one, and every frame built after it would place two
    columns at one position and none at the next ("Gaps in blk ref_locs").
    """
    if len(_PLACEMENTS) < n:
        with _LOCK:
            while len(_PLACEMENTS) < n:
                position = len(_PLACEMENTS)
                _PLACEMENTS.append(_Internals.placement(slice(position, position + 1)))
    return _PLACEMENTS


def _from_blocks(arrays: list[Any], names: pd.Index, index: pd.RangeIndex) -> pd.DataFrame | None:
    """The frame with one block per column, or None for a column this does not handle."""
    if not _Internals.load():
        return None
    it = _Internals
    blocks = []
    placements = _placements(len(arrays))
    for position, values in enumerate(arrays):
        placement = placements[position]
        dtype = values.dtype
        if isinstance(values, np.ndarray):
            if values.ndim != 1 or dtype.kind not in "biufc":
                return None
            blocks.append(it.numpy(values.reshape(1, -1), ndim=2, placement=placement))
        elif isinstance(dtype, it.tz_dtype):
            if not isinstance(values, it.datetime_array) or values.ndim != 1:
                return None
            blocks.append(it.datetime(values.reshape(1, -1), ndim=2, placement=placement))
        elif (isinstance(dtype, it.extension_dtype) and isinstance(values, it.extension_array)
              and not isinstance(values, pd.arrays.NumpyExtensionArray)
              and dtype.kind not in "mM" and not isinstance(dtype, pd.PeriodDtype)):
            blocks.append(it.extension(values, ndim=2, placement=placement))
        else:
            return None
    manager = it.manager(tuple(blocks), [names, index], verify_integrity=False)
    frame: pd.DataFrame = pd.DataFrame._from_mgr(  # type: ignore[attr-defined]
        manager, manager.axes
    )
    return frame


def column_values(frame: pd.DataFrame, name: str) -> Any:
    """The stored array of one column (numpy or extension array), without a Series."""
    arrays = frame_arrays(frame)
    if arrays is None:
        return frame[name].array
    position = column_positions(frame).get(name)
    if position is None:
        raise KeyError(name)
    return arrays[position]


_POSITIONS: dict[int, tuple[list[Any], dict[Any, int]]] = {}


def column_positions(frame: pd.DataFrame) -> dict[Any, int]:
    """Column name -> position (the first, for a repeated name), remembered per names list
    (``column_names`` hands out one list per columns storage)."""
    names = column_names(frame)
    known = _POSITIONS.get(id(names))
    if known is not None and known[0] is names:
        return known[1]
    positions: dict[Any, int] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, i)
    if len(_POSITIONS) >= 256:
        _POSITIONS.clear()
    _POSITIONS[id(names)] = (names, positions)
    return positions


_ARRAYS: dict[int, tuple[Any, Any, Any, list[Any]]] = {}


def frame_arrays(frame: pd.DataFrame) -> list[Any] | None:
    """Every column's stored array in column order, as ``BlockManager.iget_values`` gives
    them, from one pass over the blocks; remembered while the frame lives with the same
    blocks (the chain reads each small table several times). None for another layout."""
    mgr: Any = getattr(frame, "_mgr", None)
    blocks = getattr(mgr, "blocks", None)
    if blocks is None:
        return None
    key = id(frame)
    known = _ARRAYS.get(key)
    if known is not None and known[1] is mgr and known[2] is blocks and known[0]() is frame:
        return known[3]
    arrays: list[Any] = [None] * len(mgr.items)
    try:
        for block in blocks:
            values = block.values
            if values.ndim == 1:  # a 1-D extension array holds one column
                arrays[block.mgr_locs.as_array[0]] = values
            else:
                for row, position in enumerate(block.mgr_locs.as_array):
                    arrays[position] = values[row]
    except (AttributeError, IndexError, TypeError):
        return None
    _remember_arrays(frame, arrays)
    return arrays


def _remember_arrays(frame: pd.DataFrame, arrays: list[Any]) -> None:
    key = id(frame)
    mgr: Any = frame._mgr
    if len(_ARRAYS) >= 256:
        _ARRAYS.clear()
    _ARRAYS[key] = (weakref.ref(frame, _Forget(key)), mgr, mgr.blocks, arrays)


class _Forget:
    """The weakref callback dropping a dead frame's arrays."""

    __slots__ = ("key",)

    def __init__(self, key: int) -> None:
        self.key = key

    def __call__(self, _: object) -> None:
        _ARRAYS.pop(self.key, None)

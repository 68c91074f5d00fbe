"""Row positions of each (location, control) key of a batched query's result.

The batched queries return each device's rows together, so the keys are
found by comparing every row's key with the previous row's (Arrow kernels, no
hashing): one run per device. A result in any other order, or keys Arrow
cannot compare as text, are grouped by pandas (a hash of every row's key,
several times slower on a result of a few hundred thousand rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

Key = tuple[str, str]


def rows_by_key(first: pd.Series, second: pd.Series) -> dict[Key, np.ndarray]:
    """``{(first, second): row positions}`` of every key present; rows with a missing
    value in either column belong to no key."""
    runs = _key_runs(first, second)
    if runs is not None:
        return runs
    keys = [first.astype(str), second.astype(str)]
    indices: Any = pd.Series(0, index=first.index).groupby(keys, sort=False).indices
    return dict(indices)


def _key_runs(first: pd.Series, second: pd.Series) -> dict[Key, np.ndarray] | None:
    """The keys' rows when each key's rows are one run, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(first)
    columns = [_arrow_text(first), _arrow_text(second)]
    if n == 0 or columns[0] is None or columns[1] is None:
        return None
    changed: Any = None
    for column in columns:
        differs = pc.not_equal(column.slice(1), column.slice(0, n - 1)).fill_null(True)
        changed = differs if changed is None else pc.or_(changed, differs)
    heads = np.concatenate(([0], np.flatnonzero(changed.to_numpy()) + 1))
    at = pa.array(heads)
    keys = list(zip(columns[0].take(at).to_pylist(), columns[1].take(at).to_pylist(),
                    strict=True))
    if len(set(keys)) != len(keys):
        return None  # a key in several runs: not ordered by key
    bounds = np.append(heads, n)
    return {
        key: np.arange(bounds[i], bounds[i + 1])
        for i, key in enumerate(keys)
        if key[0] is not None and key[1] is not None
    }


def _arrow_text(column: pd.Series) -> Any:
    """The column's Arrow text (chunked) array, values as ``astype(str)`` spells them, or None."""
    import pyarrow as pa

    text = column if column.dtype == "str" else column.astype(str)
    arrow = getattr(text.array, "_pa_array", None)
    if not isinstance(arrow, pa.ChunkedArray) or not (
        pa.types.is_large_string(arrow.type) or pa.types.is_string(arrow.type)
    ):
        return None
    return arrow

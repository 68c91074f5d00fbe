"""Text columns stored by Arrow: factorize and take without pandas' per-call wrappers.

pandas' own ``factorize`` and ``take`` of an Arrow-backed ``str`` array run
the same Arrow kernels, plus a fill of the missing codes through another
kernel and several Python layers: on a device of a few thousand rows that is
most of their cost. Any other array goes through pandas.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd


def _arrow_text(values: Any) -> Any:
    """The values' Arrow chunked array when they are Arrow-backed large strings, else None."""
    arrow = getattr(values, "_pa_array", None)
    if arrow is None or not hasattr(values, "_from_pyarrow_array"):
        return None
    import pyarrow as pa

    return arrow if pa.types.is_large_string(arrow.type) else None


def factorize_text(values: Any) -> tuple[np.ndarray, Any]:
    """``values.factorize()``: codes in order of first appearance (-1 for missing) and the
    unique values as an array of the same dtype."""
    arrow = _arrow_text(values)
    if arrow is None or len(arrow) == 0:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        return np.asarray(codes, dtype=np.intp), uniques
    import pyarrow as pa

    # one chunk: the Array's kernel, cheaper than the ChunkedArray's and nothing to combine
    single = arrow.chunk(0) if arrow.num_chunks == 1 else None
    combined = (single.dictionary_encode() if single is not None
                else arrow.dictionary_encode().combine_chunks())
    indices = combined.indices
    if indices.type != pa.int32():
        codes, uniques = values.factorize(use_na_sentinel=True)
        return np.asarray(codes, dtype=np.intp), uniques
    offset, n = indices.offset, len(indices)
    validity, data = indices.buffers()
    codes = np.frombuffer(data, dtype=np.int32, count=offset + n)[offset:].astype(np.intp)
    if indices.null_count:
        present = np.unpackbits(
            np.frombuffer(validity, dtype=np.uint8), count=offset + n, bitorder="little"
        )[offset:]
        codes[present == 0] = -1
    return codes, values._from_pyarrow_array(combined.dictionary)


def take_text(values: Any, positions: np.ndarray) -> Any:
    """``values.take(positions)`` for valid, non-negative positions."""
    arrow = _arrow_text(values)
    if arrow is None:
        return values.take(positions)
    import pyarrow as pa

    indices = pa.array(np.asarray(positions, dtype=np.int64))
    source = arrow.chunk(0) if arrow.num_chunks == 1 else arrow
    return values._from_pyarrow_array(source.take(indices))


def take_names(names: Any, positions: np.ndarray, valid: np.ndarray) -> Any:
    """``pd.array(names, dtype="str").take(positions, allow_fill=True)``, missing where not
    ``valid``, made by one Arrow take of the Arrow large_string ``names`` (pandas validates
    every name, then fills the missing positions by another kernel); None when this pandas
    stores "str" otherwise."""
    make = _str_maker()
    if make is None:
        return None
    import pyarrow as pa

    return make(names.take(pa.array(positions, mask=~valid, type=pa.int64())))


@functools.cache
def _str_maker() -> Any:
    """How a "str" array is made from an Arrow large_string array, or None."""
    empty: Any = pd.array([], dtype="str")
    return empty._from_pyarrow_array if _arrow_text(empty) is not None else None


def text_is_unique(values: Any) -> bool | None:
    """No value repeated among Arrow-backed text, missing values counting as one value;
    None for any other array."""
    arrow = _arrow_text(values)
    if arrow is None:
        arrow = getattr(values, "_pa_array", None)
        if arrow is None:
            return None
    n = len(arrow)
    if n < 2:
        return True
    source = arrow.chunk(0) if arrow.num_chunks == 1 else arrow
    return len(source.unique()) == n


def take_rows(values: Any, positions: np.ndarray) -> Any:
    """Rows of a column array at valid, non-negative positions, as a fresh array of its dtype
    (a take: a boolean mask costs several times more on extension arrays)."""
    if isinstance(values, np.ndarray):
        return values[positions]
    return take_text(values, positions)

"""Cycle segmentation (section 2): runs of one cycle stage with no long gap.

Everything is a comparison with the previous row and a cumulative sum, so a
device-year of 1-minute data segments in milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from meshinsights_hvac.algorithms.stages import FIRST_CYCLE_CODE, STAGE_NAMES
from meshinsights_hvac.algorithms.text import take_names

_STAGE_TEXT = pa.array(STAGE_NAMES.astype(str), type=pa.large_string())
_DASH = pa.scalar("-", type=pa.large_string())


def gap_limit_ns(interval_ns: int | None, max_gap_factor: float) -> int:
    """Longest step still inside a cycle; any step is a gap when the interval is unknown."""
    if interval_ns is None:
        return 0
    return int(interval_ns * max_gap_factor)


def segment_cycles(ts: np.ndarray, codes: np.ndarray, gap_ns: int) -> np.ndarray:
    """Cycle number (0, 1, ... in time order) of each row; -1 for off/fan rows.

    ``ts`` must be strictly increasing. A cycle starts on a cycle-stage row whose
    previous row has another stage or lies more than ``gap_ns`` before it.
    """
    n = len(ts)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return out
    in_cycle = codes >= FIRST_CYCLE_CODE
    starts = in_cycle.copy()
    if n > 1:
        same_stage = codes[1:] == codes[:-1]
        no_gap = (ts[1:] - ts[:-1]) <= gap_ns
        starts[1:] &= ~(same_stage & no_gap)
    number = np.cumsum(starts) - 1
    out[in_cycle] = number[in_cycle]
    return out


def cycle_names(first_codes: np.ndarray) -> pa.Array:
    """``f"{stage}-{n:05d}"`` for cycles numbered 1, 2, ... in time order (Arrow large_string).

    Arrow's string kernels: numpy's ``char`` functions or an f-string per cycle
    cost two to three times more on a device-month's two thousand cycles.
    """
    numbers = pa.array(np.arange(1, len(first_codes) + 1)).cast(pa.large_string())
    stages = _STAGE_TEXT.take(pa.array(first_codes, type=pa.int8()))
    return pc.binary_join_element_wise(stages, pc.utf8_lpad(numbers, 5, "0"), _DASH)


def row_cycle_ids(cycle_no: np.ndarray, codes: np.ndarray) -> pd.Series:
    """The ``cycle_id`` column: each row's cycle name, missing outside cycles."""
    in_cycle = cycle_no >= 0
    n_cycles = int(cycle_no.max()) + 1 if in_cycle.any() else 0
    first = np.zeros(n_cycles, dtype=np.int8)
    first[cycle_no[in_cycle]] = codes[in_cycle]
    if n_cycles == 0:
        return pd.Series(pd.array([None] * len(codes), dtype="str"))
    names = cycle_names(first)
    text = take_names(names, cycle_no, in_cycle)
    if text is not None:
        return pd.Series(text, copy=False)
    strings = pd.array(names.to_numpy(zero_copy_only=False), dtype="str")
    return pd.Series(strings.take(np.where(in_cycle, cycle_no, -1), allow_fill=True))

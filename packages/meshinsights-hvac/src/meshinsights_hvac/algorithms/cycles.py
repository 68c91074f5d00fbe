"""Cycle segmentation (section 2): runs of one cycle stage with no long gap.

Everything is a comparison with the previous row and a cumulative sum, so a
device-year of 1-minute data segments in milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from meshinsights_hvac.algorithms.stages import FIRST_CYCLE_CODE, STAGE_NAMES
from meshinsights_hvac.algorithms.text import take_names


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


def cycle_names(first_codes: np.ndarray) -> np.ndarray:
    """``f"{stage}-{n:05d}"`` for cycles numbered 1, 2, ... in time order (object array)."""
    count = len(first_codes)
    if count == 0:
        return np.array([], dtype=object)
    # numpy's C string loops: pandas' .str methods cost ~1 ms even for a handful of cycles.
    numbers = np.char.zfill(np.arange(1, count + 1).astype(str), 5)
    stages = STAGE_NAMES[first_codes].astype(str)
    return np.char.add(np.char.add(stages, "-"), numbers).astype(object)


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
    taken = pd.array(names, dtype="str").take(np.where(in_cycle, cycle_no, -1), allow_fill=True)
    return pd.Series(taken)


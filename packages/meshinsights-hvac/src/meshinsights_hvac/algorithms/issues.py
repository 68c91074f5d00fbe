"""Issue codes per stage (section 4), from the artifacts of the chain.

Every stage with at least one cycle gets an entry, empty when clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from meshinsights_hvac.algorithms.frames import column_values
from meshinsights_hvac.algorithms.stages import SECOND_STAGES, STAGE_NAMES, stage_codes
from meshinsights_hvac.algorithms.timeutil import NS_PER_S, ts_ns
from meshinsights_hvac.params import STAGES, HVACParams
from meshinsights_hvac.schemas import REJECT_REASONS, VARIANCE_CLASSES

INSUFFICIENT_CYCLES = "insufficient_cycles"
NO_POWER_WHEN_CALLED = "no_power_when_called"
SHORT_CYCLING = "short_cycling"
UNSTABLE_POWER = "unstable_power"
DRIFTING_CYCLE_MEDIANS = "drifting_cycle_medians"
OUT_OF_BAND_CYCLES = "out_of_band_cycles"
STAGE_POWER_INVERTED = "stage_power_inverted"
ISSUE_CODES: tuple[str, ...] = (
    INSUFFICIENT_CYCLES, NO_POWER_WHEN_CALLED, SHORT_CYCLING, UNSTABLE_POWER,
    DRIFTING_CYCLE_MEDIANS, OUT_OF_BAND_CYCLES, STAGE_POWER_INVERTED,
)
_NS_PER_HOUR = 3600 * NS_PER_S
_NS_PER_DAY = 24 * _NS_PER_HOUR
_SIZE = len(STAGES)


def _flag(found: dict[int, set[str]], stages: np.ndarray, code: str) -> None:
    for stage in np.unique(stages):
        found.setdefault(int(stage), set()).add(code)


def _by_class(table: Any, column: str) -> np.ndarray:
    """Stage codes whose class column is ``unstable``."""
    if not isinstance(table, pd.DataFrame) or table.empty:
        return np.zeros(0, dtype=np.int8)
    unstable = np.asarray(table[column].array.codes) == VARIANCE_CLASSES.index("unstable")
    codes: np.ndarray = stage_codes(table["stage"])[unstable]
    return codes


def detect_issues(
    summary: pd.DataFrame,
    sufficiency: pd.DataFrame | None,
    variance: pd.DataFrame | None,
    cycle_variance: pd.DataFrame | None,
    thresholds: Mapping[str, Mapping[str, float]],
    days_of_data: float,
    params: HVACParams,
    arrays: Mapping[str, np.ndarray] | None = None,
) -> dict[str, list[str]]:
    """stage -> sorted issue codes, every stage with a cycle present.

    ``arrays`` may hold the summary's ``codes``, ``valid`` and ``median`` already computed.
    """
    if arrays is not None:
        codes, valid, medians = arrays["codes"], arrays["valid"], arrays["median"]
    else:
        codes = stage_codes(summary["stage"])
        valid = summary["valid"].to_numpy(dtype=bool)
        medians = summary["median_kw"].to_numpy(dtype=np.float64)
    seen = np.unique(codes)
    found: dict[int, set[str]] = {int(s): set() for s in seen}

    if isinstance(sufficiency, pd.DataFrame) and not sufficiency.empty:
        weak = ~sufficiency["sufficient"].to_numpy(dtype=bool)
        _flag(found, stage_codes(sufficiency["stage"])[weak], INSUFFICIENT_CYCLES)

    no_power = (np.asarray(column_values(summary, "reject_reason").codes)
                == REJECT_REASONS.index("no_power"))
    n_no_power = np.bincount(codes[no_power], minlength=_SIZE)
    _flag(found, np.flatnonzero(n_no_power >= params.no_power_min_cycles), NO_POWER_WHEN_CALLED)

    # Short cycling: a daily rate of short cycles (days floored at one: a rate over a few
    # hours extrapolates one restart into many), or too many calls within one clock hour.
    short = np.asarray(column_values(summary, "short_cycle"), dtype=bool)
    per_day = np.bincount(codes[short], minlength=_SIZE) / max(days_of_data, 1.0)
    _flag(found, np.flatnonzero(per_day > params.short_cycle_max_per_day), SHORT_CYCLING)
    call_id = np.asarray(column_values(summary, "call_id"), dtype=np.int64)
    heads = np.ones(len(call_id), dtype=bool)
    heads[1:] = call_id[1:] != call_id[:-1]
    if heads.any():
        hour = ts_ns(summary["start"])[heads] // _NS_PER_HOUR
        _, inverse, counts = np.unique(hour, return_inverse=True, return_counts=True)
        busy = counts[inverse] > params.max_calls_per_hour
        _flag(found, codes[heads][busy], SHORT_CYCLING)

    _flag(found, _by_class(variance, "variance_class"), UNSTABLE_POWER)
    _flag(found, _by_class(cycle_variance, "cycle_median_class"), DRIFTING_CYCLE_MEDIANS)

    for stage, limits in thresholds.items():
        code = STAGES.index(stage)
        mine = valid & (codes == code)
        outside = mine & ((medians < limits["lower_kw"]) | (medians > limits["upper_kw"]))
        n_out, n_valid = int(outside.sum()), int(mine.sum())
        if n_out >= params.out_of_band_min_cycles and n_out > params.out_of_band_max_fraction * n_valid:
            found.setdefault(code, set()).add(OUT_OF_BAND_CYCLES)

    for second, first in SECOND_STAGES.items():
        if (second in thresholds and first in thresholds
                and thresholds[second]["baseline_kw"] <= thresholds[first]["baseline_kw"]):
            found.setdefault(STAGES.index(second), set()).add(STAGE_POWER_INVERTED)

    return {str(STAGE_NAMES[s]): sorted(found[s]) for s in sorted(found)}


def days_of_data(n_rows: int, interval_ns: int | None) -> float:
    """Rows x sampling interval, in days."""
    return 0.0 if interval_ns is None else n_rows * interval_ns / _NS_PER_DAY

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
    for stage in set(stages.tolist()):
        found.setdefault(int(stage), set()).add(code)


def _rows(table: Any) -> pd.DataFrame | None:
    """The table, if it is a DataFrame with rows and columns (not ``DataFrame.empty``)."""
    return table if isinstance(table, pd.DataFrame) and 0 not in table.shape else None


def _by_class(table: Any, column: str) -> np.ndarray:
    """Stage codes whose class column is ``unstable``."""
    if _rows(table) is None:
        return np.zeros(0, dtype=np.int8)
    unstable = np.asarray(column_values(table, column).codes) == _UNSTABLE
    codes: np.ndarray = stage_codes(column_values(table, "stage"))[unstable]
    return codes


_UNSTABLE = VARIANCE_CLASSES.index("unstable")
_NO_POWER = REJECT_REASONS.index("no_power")


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
        codes = stage_codes(column_values(summary, "stage"))
        valid = np.asarray(column_values(summary, "valid"), dtype=bool)
        medians = np.asarray(column_values(summary, "median_kw"), dtype=np.float64)
    per_stage = np.bincount(codes, minlength=_SIZE)
    found: dict[int, set[str]] = {s: set() for s in per_stage.nonzero()[0].tolist()}

    table = _rows(sufficiency)
    if table is not None:
        weak = np.logical_not(np.asarray(column_values(table, "sufficient"), dtype=bool))
        _flag(found, stage_codes(column_values(table, "stage"))[weak], INSUFFICIENT_CYCLES)

    no_power = np.asarray(column_values(summary, "reject_reason").codes) == _NO_POWER
    n_no_power = np.bincount(codes[no_power], minlength=_SIZE)
    _flag(found, (n_no_power >= params.no_power_min_cycles).nonzero()[0], NO_POWER_WHEN_CALLED)

    # Short cycling: a daily rate of short cycles (days floored at one: a rate over a few
    # hours extrapolates one restart into many), or too many calls within one clock hour.
    short = np.asarray(column_values(summary, "short_cycle"), dtype=bool)
    per_day = np.bincount(codes[short], minlength=_SIZE) / max(days_of_data, 1.0)
    _flag(found, (per_day > params.short_cycle_max_per_day).nonzero()[0], SHORT_CYCLING)
    call_id = np.asarray(column_values(summary, "call_id"), dtype=np.int64)
    heads = np.ones(len(call_id), dtype=bool)
    heads[1:] = call_id[1:] != call_id[:-1]
    if len(call_id):
        hour = ts_ns(column_values(summary, "start"))[heads] // _NS_PER_HOUR
        _flag(found, codes[heads][_in_busy_hour(hour, params.max_calls_per_hour)], SHORT_CYCLING)

    _flag(found, _by_class(variance, "variance_class"), UNSTABLE_POWER)
    _flag(found, _by_class(cycle_variance, "cycle_median_class"), DRIFTING_CYCLE_MEDIANS)

    if thresholds:
        # every stage with a band at once, each cycle against its own stage's band
        banded = np.zeros(_SIZE, dtype=bool)
        lower, upper = np.full(_SIZE, np.nan), np.full(_SIZE, np.nan)
        for stage, limits in thresholds.items():
            code = STAGES.index(stage)
            banded[code] = True
            lower[code], upper[code] = limits["lower_kw"], limits["upper_kw"]
        judged = valid & banded[codes]
        outside = judged & ((medians < lower[codes]) | (medians > upper[codes]))
        n_out = np.bincount(codes[outside], minlength=_SIZE).tolist()
        n_valid = np.bincount(codes[judged], minlength=_SIZE).tolist()
        for stage in thresholds:
            code = STAGES.index(stage)
            if (n_out[code] >= params.out_of_band_min_cycles
                    and n_out[code] > params.out_of_band_max_fraction * n_valid[code]):
                found.setdefault(code, set()).add(OUT_OF_BAND_CYCLES)

    for second, first in SECOND_STAGES.items():
        if (second in thresholds and first in thresholds
                and thresholds[second]["baseline_kw"] <= thresholds[first]["baseline_kw"]):
            found.setdefault(STAGES.index(second), set()).add(STAGE_POWER_INVERTED)

    return {str(STAGE_NAMES[s]): sorted(found[s]) for s in sorted(found)}


def _in_busy_hour(hour: np.ndarray, max_calls: int) -> np.ndarray:
    """Calls in a clock hour with more than ``max_calls`` calls (hours ascending, as calls
    are in time order, are counted by runs; any other order by ``np.unique``)."""
    if len(hour) > 1 and not (hour[1:] >= hour[:-1]).all():
        _, inverse, counts = np.unique(hour, return_inverse=True, return_counts=True)
        busy: np.ndarray = counts[inverse] > max_calls
        return busy
    edges = (hour[1:] != hour[:-1]).nonzero()[0] + 1
    bounds = np.concatenate(([0], edges, [len(hour)]))
    runs = bounds[1:] - bounds[:-1]
    in_busy: np.ndarray = np.repeat(runs > max_calls, runs)
    return in_busy


def days_of_data(n_rows: int, interval_ns: int | None) -> float:
    """Rows x sampling interval, in days."""
    return 0.0 if interval_ns is None else n_rows * interval_ns / _NS_PER_DAY

"""3.1 FilterValidCycles: one summary row per cycle, and the trimmed rows of valid cycles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from meshinsights.data_object import PipelineDataObject
from meshinsights_hvac.algorithms.cycles import gap_limit_ns
from meshinsights_hvac.algorithms.frames import build_frame, column_names, column_values
from meshinsights_hvac.algorithms.robust import group_median_mad
from meshinsights_hvac.algorithms.sharing import share
from meshinsights_hvac.algorithms.stages import FIRST_CYCLE_CODE, categorical, stage_codes
from meshinsights_hvac.algorithms.text import factorize_text, take_rows
from meshinsights_hvac.algorithms.timeutil import (
    NS_PER_MIN,
    NS_PER_S,
    sampling_interval_ns,
    ts_ns,
    utc_array,
)
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.processors.base import HVACProcessor, power_timing
from meshinsights_hvac.schemas import (
    CYCLE_SUMMARY_SCHEMA,
    FILTERED_DATA_SCHEMA,
    REJECT_DTYPE,
)

_COLUMNS = ("timestamp", "power_kw", "stage", "cycle_id")
#: The dtype "str" names, resolved once (comparing a dtype with the name parses it each time).
_STR = pd.api.types.pandas_dtype("str")


class FilterValidCycles(HVACProcessor):
    """Summarize cycles, mark calls and short cycles, trim and keep the valid cycles' rows.

    A cycle is rejected as ``too_short``, ``too_few_samples`` (after trimming)
    or ``no_power`` (trimmed median below ``on_threshold_kw``), first match wins.
    """

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(Keys.ARTIFACT_CYCLE_SUMMARY, CYCLE_SUMMARY_SCHEMA)
        data_object.register_artifact_schema(Keys.ARTIFACT_FILTERED_DATA, FILTERED_DATA_SCHEMA)

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        data = data_object.get_dataset(Keys.DATASET_POWER)
        names = column_names(data)
        missing = [c for c in _COLUMNS if c not in names]
        if missing:
            raise ValueError(f"dataset 'hvac_power' has no column(s) {', '.join(map(repr, missing))}")
        if len(set(names)) != len(names):
            raise ValueError("dataset 'hvac_power' has duplicated column names")
        summary, rows, arrays = summarize_cycles(data, self.params)
        power_timing(data_object, arrays.pop("ts"), arrays.pop("interval"))
        row_codes = arrays.pop("row_codes")
        row_power = arrays.pop("row_power")
        columns = {c: take_rows(column_values(data, c), rows) for c in _COLUMNS}
        cycle_id = columns["cycle_id"]
        if cycle_id.dtype != _STR:
            columns["cycle_id"] = pd.Series(cycle_id).astype("str").array
        filtered = build_frame(columns)
        data_object.set_artifact(Keys.ARTIFACT_CYCLE_SUMMARY, summary)
        data_object.set_artifact(Keys.ARTIFACT_FILTERED_DATA, filtered)
        share(data_object, Keys.ARTIFACT_CYCLE_SUMMARY, data_object.get_artifact(
            Keys.ARTIFACT_CYCLE_SUMMARY), arrays)
        share(data_object, Keys.ARTIFACT_FILTERED_DATA, data_object.get_artifact(
            Keys.ARTIFACT_FILTERED_DATA), {"codes": row_codes[rows], "power": row_power[rows]})
        return data_object


def _float_column(data: pd.DataFrame, name: str) -> np.ndarray:
    """``data[name].to_numpy(dtype=np.float64)``, read-only, without a Series for float64."""
    values = column_values(data, name)
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        view = values.view()
        view.flags.writeable = False  # as the Series would hand it out
        return view
    converted: np.ndarray = data[name].to_numpy(dtype=np.float64)
    return converted


def summarize_cycles(
    data: pd.DataFrame, params: object
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """The ``cycles/summary`` frame, the row positions of valid cycles after trimming,
    and arrays the next processors reuse (stage codes, validity, medians, timestamps)."""
    from meshinsights_hvac.params import HVACParams

    assert isinstance(params, HVACParams)
    timestamps = column_values(data, "timestamp")
    ts = ts_ns(timestamps)
    unit = getattr(timestamps, "unit", "us")
    if len(ts) > 1 and not (ts[1:] > ts[:-1]).all():
        raise ValueError("dataset 'hvac_power' is not strictly increasing in timestamp")
    power = _float_column(data, "power_kw")
    codes = stage_codes(column_values(data, "stage"))
    interval = sampling_interval_ns(ts)
    gap = gap_limit_ns(interval, params.max_gap_factor)
    step = interval or 0

    row_cycle, uniques = factorize_text(column_values(data, "cycle_id"))
    if uniques.dtype == _STR and isinstance(uniques, pd.arrays.ArrowStringArray):
        names: Any = uniques  # already the str array: no round trip via objects
    else:
        names = pd.array(np.asarray(uniques, dtype=object), dtype="str")

    idx = (row_cycle >= 0).nonzero()[0]
    cyc = row_cycle[idx].astype(np.int64)
    n = len(names)
    if len(idx):
        change = (cyc[1:] != cyc[:-1]).nonzero()[0] + 1
        first_pos = np.concatenate(([0], change))
        last_pos = np.concatenate((change - 1, [len(idx) - 1]))
    else:
        first_pos = last_pos = np.zeros(0, dtype=np.int64)
    if len(first_pos) != n:
        raise ValueError("column 'cycle_id': a cycle's rows are not consecutive in time")
    first_row, last_row = idx[first_pos], idx[last_pos]
    n_rows = last_pos - first_pos + 1
    if (last_row - first_row + 1 != n_rows).any():
        raise ValueError("column 'cycle_id': a cycle is interrupted by rows of another stage")
    stage = codes[first_row]
    if (codes[idx] != stage[cyc]).any() or (len(stage) and stage.min() < FIRST_CYCLE_CODE):
        raise ValueError("column 'cycle_id': a cycle mixes stages or covers off/fan rows")

    start = ts[first_row]
    end = ts[last_row] + step
    duration_min = (end - start) / NS_PER_MIN
    row_ts = ts[idx]
    keep = (row_ts - start[cyc] >= int(params.trim_start_s * NS_PER_S)) & (
        row_ts < end[cyc] - int(params.trim_end_s * NS_PER_S)
    )
    kept_cycles = cyc[keep]
    n_samples = np.bincount(kept_cycles, minlength=n).astype(np.int64)
    median, mad = group_median_mad(power[idx][keep], kept_cycles, n)
    with np.errstate(invalid="ignore"):
        no_power = ~(median >= params.on_threshold_kw)
    # first match wins: too_short, too_few_samples, no_power (np.select's order)
    reject = np.where(
        duration_min < params.min_cycle_minutes, 0,
        np.where(n_samples < params.min_samples_per_cycle, 1, np.where(no_power, 2, -1)),
    ).astype(np.int8)
    valid = reject < 0

    calls = _calls(ts, first_row, last_row, start, end, gap, params)
    summary = build_frame(
        {
            "cycle_id": names,
            "stage": categorical(stage, validate=False),
            "staged_from": categorical(calls.staged_from(stage), validate=False),
            "call_id": calls.call_id,
            "start": utc_array(start, unit),
            "end": utc_array(end, unit),
            "duration_min": duration_min,
            "n_rows": n_rows.astype(np.int64),
            "n_samples": n_samples,
            "median_kw": median,
            "mad_kw": mad,
            "off_before_min": calls.off_before_min,
            "valid": valid,
            "reject_reason": pd.Categorical.from_codes(reject, dtype=REJECT_DTYPE, validate=False),
            "short_cycle": calls.short_cycle,
        }
    )
    shared_arrays = {
        "codes": stage, "valid": valid, "n_samples": n_samples, "median": median, "mad": mad,
        "ts": ts, "interval": interval, "row_codes": codes, "row_power": power,
    }
    return summary, idx[keep & valid[cyc]], shared_arrays


class _Calls:
    """Calls: runs of cycles with no off time (and no data gap) between them."""

    def __init__(self, call_id: np.ndarray, new_call: np.ndarray, off_before_min: np.ndarray,
                 short_cycle: np.ndarray) -> None:
        self.call_id = call_id
        self.new_call = new_call
        self.off_before_min = off_before_min
        self.short_cycle = short_cycle

    def staged_from(self, stage: np.ndarray) -> np.ndarray:
        previous = np.concatenate(([-1], stage[:-1])).astype(np.int8)
        return np.where(self.new_call, -1, previous).astype(np.int8)


def _calls(
    ts: np.ndarray, first_row: np.ndarray, last_row: np.ndarray, start: np.ndarray,
    end: np.ndarray, gap: int, params: object,
) -> _Calls:
    from meshinsights_hvac.params import HVACParams

    assert isinstance(params, HVACParams)
    n = len(first_row)
    new_call = np.ones(n, dtype=bool)
    if n > 1:
        adjacent = first_row[1:] == last_row[:-1] + 1
        no_gap = ts[first_row[1:]] - ts[last_row[:-1]] <= gap
        new_call[1:] = ~(adjacent & no_gap)
    call_id = (new_call.cumsum() - 1).astype(np.int64)
    heads = new_call.nonzero()[0]
    tails = np.concatenate((heads[1:] - 1, [n - 1])).astype(np.int64) if n else heads
    call_start, call_end = start[heads], end[tails]
    off_call = np.full(len(heads), np.nan)
    if len(heads) > 1:
        off_call[1:] = (call_start[1:] - call_end[:-1]) / NS_PER_MIN
    # A call's start (end) is observed when the row before (after) it is near in time:
    # calls cut by the edge of the data or by a gap are not judged as short.
    before = first_row[heads] - 1
    observed_start = (before >= 0) & (ts[first_row[heads]] - ts[np.maximum(before, 0)] <= gap)
    after = last_row[tails] + 1
    inside = after < len(ts)
    observed_end = inside & (ts[np.minimum(after, len(ts) - 1)] - ts[last_row[tails]] <= gap)
    call_minutes = (call_end - call_start) / NS_PER_MIN
    with np.errstate(invalid="ignore"):
        short_call = observed_start & (
            (observed_end & (call_minutes < params.short_cycle_minutes))
            | (off_call < params.min_off_minutes)
        )
    short_cycle = np.zeros(n, dtype=bool)
    short_cycle[heads] = short_call
    return _Calls(call_id, new_call, off_call[call_id] if n else off_call, short_cycle)

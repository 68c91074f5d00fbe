"""What every HVAC processor shares: its parameters and artifact lookups."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from meshinsights.data_object import PipelineDataObject
from meshinsights.errors import SkipProcessor
from meshinsights.processor import Processor
from meshinsights_hvac.algorithms.sharing import recall, remember, shared
from meshinsights_hvac.algorithms.stages import stage_codes
from meshinsights_hvac.algorithms.timeutil import sampling_interval_ns, ts_ns
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.params import STAGES, HVACParams


class HVACProcessor(Processor):
    """A processor with :class:`HVACParams` (defaults when built with no arguments)."""

    #: Skip (with a warning) when no stage has enough valid cycles.
    needs_sufficient_stage: bool = False

    def __init__(self, params: HVACParams | None = None) -> None:
        self.params = params or HVACParams()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(params={self.params!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def validate_prerequisites(self, data_object: PipelineDataObject) -> bool:
        if self.needs_sufficient_stage:
            sufficiency = require_frame(data_object, Keys.ARTIFACT_SUFFICIENCY, self.name)
            known = shared(data_object, Keys.ARTIFACT_SUFFICIENCY)
            if known is not None:
                any_sufficient = bool(len(known["sufficient_codes"]))
            else:
                any_sufficient = bool(sufficiency["sufficient"].to_numpy(dtype=bool).any())
            if not any_sufficient:
                raise SkipProcessor("insufficient data: no stage has enough valid cycles")
        return True


def require_frame(data_object: PipelineDataObject, key: str, who: str) -> pd.DataFrame:
    """An upstream DataFrame artifact, or a skip naming the processor that writes it."""
    value: Any = data_object.get_artifact(key)
    if not isinstance(value, pd.DataFrame):
        raise SkipProcessor(f"artifact {key!r} is missing (the processor writing it did not run)")
    return value


def sufficient_mask(data_object: PipelineDataObject, codes: np.ndarray) -> np.ndarray:
    """Rows whose stage code is one of the sufficient stages."""
    known = shared(data_object, Keys.ARTIFACT_SUFFICIENCY)
    if known is not None:
        ok = known["sufficient_codes"]
    else:
        sufficiency = data_object.get_artifact(Keys.ARTIFACT_SUFFICIENCY)
        if not isinstance(sufficiency, pd.DataFrame) or sufficiency.empty:
            return np.zeros(len(codes), dtype=bool)
        ok = stage_codes(sufficiency["stage"])[sufficiency["sufficient"].to_numpy(dtype=bool)]
    # A lookup by code (its extra last slot, False, is what code -1 reads): cheaper than np.isin.
    lookup = np.zeros(len(STAGES) + 1, dtype=bool)
    lookup[np.asarray(ok, dtype=np.intp)] = True
    codes = np.asarray(codes)
    result: np.ndarray = lookup[codes if codes.dtype.kind in "iu" else codes.astype(np.intp)]
    return result


class PowerTiming:
    """Row count, sampling interval and first/last timestamp of the power dataset."""

    __slots__ = ("first_ns", "interval_ns", "last_ns", "n_rows")

    def __init__(self, ts: np.ndarray, interval_ns: int | None) -> None:
        self.n_rows = len(ts)
        self.interval_ns = interval_ns
        self.first_ns = int(ts[0]) if len(ts) else 0
        self.last_ns = int(ts[-1]) if len(ts) else 0


_TIMING_KEY = "__hvac_power_timing__"


def power_timing(
    data_object: PipelineDataObject, ts: np.ndarray | None = None, interval_ns: int | None = None
) -> PowerTiming:
    """The dataset's timing, computed once per loaded dataset and shared by the processors."""
    known: PowerTiming | None = recall(data_object, _TIMING_KEY, data_object.normalized_data)
    if known is not None:
        return known
    if ts is None:
        ts = ts_ns(data_object.get_dataset(Keys.DATASET_POWER)["timestamp"])
        interval_ns = sampling_interval_ns(ts)
    timing = PowerTiming(ts, interval_ns)
    remember(data_object, _TIMING_KEY, data_object.normalized_data, timing)
    return timing

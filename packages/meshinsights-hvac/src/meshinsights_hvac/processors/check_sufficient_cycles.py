"""3.2 CheckSufficientCycles: which stages have enough valid cycles to baseline."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from meshinsights.data_object import PipelineDataObject
from meshinsights_hvac.algorithms.frames import build_frame
from meshinsights_hvac.algorithms.sharing import share, shared
from meshinsights_hvac.algorithms.stages import categorical, stage_codes
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.params import STAGES, HVACParams
from meshinsights_hvac.processors.base import (
    HVACProcessor,
    PowerTiming,
    power_timing,
    require_frame,
)
from meshinsights_hvac.schemas import SUFFICIENCY_SCHEMA


class CheckSufficientCycles(HVACProcessor):
    """Per stage seen: valid cycles, filtered samples, coverage and ``sufficient``.

    ``window`` is the device's requested [start, end) in UTC; coverage is rows
    present over rows expected in it at the sampling interval (over the data's
    own span when no window is given). Low coverage is a warning only.
    """

    def __init__(
        self,
        params: HVACParams | None = None,
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        super().__init__(params)
        self.window = window

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(Keys.ARTIFACT_SUFFICIENCY, SUFFICIENCY_SCHEMA)

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        summary = require_frame(data_object, Keys.ARTIFACT_CYCLE_SUMMARY, self.name)
        known = shared(data_object, Keys.ARTIFACT_CYCLE_SUMMARY)
        if known is not None:
            codes, valid, samples = known["codes"], known["valid"], known["n_samples"]
        else:
            codes = stage_codes(summary["stage"])
            valid = summary["valid"].to_numpy(dtype=bool)
            samples = summary["n_samples"].to_numpy(dtype=np.int64)
        size = len(STAGES)
        n_cycles = np.bincount(codes, minlength=size)
        n_valid = np.bincount(codes[valid], minlength=size)
        n_filtered = np.bincount(codes[valid], weights=samples[valid], minlength=size)
        seen = (n_cycles > 0).nonzero()[0]
        coverage = self._coverage(power_timing(data_object))
        sufficient = (n_valid[seen] >= self.params.min_cycles_per_stage) & (
            n_filtered[seen] >= self.params.min_samples_per_stage
        )
        table = build_frame(
            {
                "stage": categorical(seen.astype(np.int8), validate=False),
                "n_cycles": n_cycles[seen].astype(np.int64),
                "n_valid_cycles": n_valid[seen].astype(np.int64),
                "n_filtered_samples": n_filtered[seen].astype(np.int64),
                "coverage": np.full(len(seen), coverage),
                "sufficient": sufficient,
            }
        )
        data_object.set_artifact(Keys.ARTIFACT_SUFFICIENCY, table)
        share(data_object, Keys.ARTIFACT_SUFFICIENCY, data_object.get_artifact(
            Keys.ARTIFACT_SUFFICIENCY), {"sufficient_codes": seen[sufficient]})
        if coverage == coverage and coverage < self.params.min_coverage:
            data_object.add_warning(
                f"coverage {coverage:.3f} of the requested window is below "
                f"min_coverage {self.params.min_coverage}",
                stage="cpu", component=self.name,
            )
        if not sufficient.any():
            data_object.add_warning(
                "insufficient data: no stage has "
                f"{self.params.min_cycles_per_stage} valid cycles and "
                f"{self.params.min_samples_per_stage} filtered samples",
                stage="cpu", component=self.name,
            )
        return data_object

    def _coverage(self, timing: PowerTiming) -> float:
        """Rows present / rows expected at the sampling interval; NaN when unknown."""
        interval = timing.interval_ns
        if interval is None:
            return float("nan") if timing.n_rows == 0 or self.window is None else 0.0
        if self.window is not None:
            start, end = (pd.Timestamp(t).as_unit("ns").value for t in self.window)
        else:
            start, end = timing.first_ns, timing.last_ns + interval
        expected = (end - start) / interval
        return float(timing.n_rows / expected) if expected > 0 else float("nan")

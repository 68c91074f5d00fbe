"""3.6 CalculateBaselinePowerThresholds: per-stage baseline band, and the issues per stage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from meshinsights.data_object import PipelineDataObject
from meshinsights_hvac.algorithms.frames import build_frame
from meshinsights_hvac.algorithms.issues import days_of_data, detect_issues
from meshinsights_hvac.algorithms.robust import MAD_TO_SIGMA, group_median_mad, nan_to_zero
from meshinsights_hvac.algorithms.sharing import forget, shared
from meshinsights_hvac.algorithms.stages import categorical, stage_codes
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.params import STAGES
from meshinsights_hvac.processors.base import HVACProcessor, power_timing, require_frame
from meshinsights_hvac.schemas import THRESHOLDS_SCHEMA

_VALUES = ("baseline_kw", "mad_kw", "band_kw", "lower_kw", "upper_kw", "n_cycles_used")


class CalculateBaselinePowerThresholds(HVACProcessor):
    """Baseline = median of non-outlier cycle medians; band = max(3 sigma_MAD, 15 %, 0.1 kW).

    Runs on devices with insufficient data too: there it writes empty
    thresholds and the issues that need no baseline (insufficient cycles, no
    power when called, short cycling), so every device reports its stages.
    """

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(
            Keys.ARTIFACT_BASELINE_THRESHOLDS_TABLE, THRESHOLDS_SCHEMA
        )

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        summary = require_frame(data_object, Keys.ARTIFACT_CYCLE_SUMMARY, self.name)
        medians = data_object.get_artifact(Keys.ARTIFACT_CYCLE_MEDIANS)
        table, stages, values = self._thresholds(medians, shared(data_object, Keys.ARTIFACT_CYCLE_MEDIANS))
        columns = {k: values[k].tolist() for k in _VALUES}
        thresholds: dict[str, dict[str, Any]] = {
            str(STAGES[code]): {k: columns[k][i] for k in _VALUES}
            for i, code in enumerate(stages.tolist())
        }
        timing = power_timing(data_object)
        days = days_of_data(timing.n_rows, timing.interval_ns)
        issues = detect_issues(
            summary,
            data_object.get_artifact(Keys.ARTIFACT_SUFFICIENCY),
            data_object.get_artifact(Keys.ARTIFACT_VARIANCE_FILTERED),
            data_object.get_artifact(Keys.ARTIFACT_VARIANCE_CYCLE_MEDIANS),
            thresholds,
            days,
            self.params,
            shared(data_object, Keys.ARTIFACT_CYCLE_SUMMARY),
        )
        data_object.set_artifact(Keys.ARTIFACT_BASELINE_THRESHOLDS, thresholds)
        data_object.set_artifact(Keys.ARTIFACT_BASELINE_THRESHOLDS_TABLE, table)
        data_object.set_artifact(Keys.ARTIFACT_ISSUES_PER_STAGE, issues)
        forget(data_object)  # the last step of the chain: nothing reads the shared arrays after it
        return data_object

    def _thresholds(
        self, medians: Any, known: dict[str, Any] | None
    ) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
        size = len(STAGES)
        if known is not None and "outlier" in known:
            used = ~known["outlier"]
            codes, x = known["codes"][used], known["median"][used]
        elif isinstance(medians, pd.DataFrame) and "outlier" in medians.columns:
            used = ~medians["outlier"].to_numpy(dtype=bool)
            codes = stage_codes(medians["stage"])[used]
            x = medians["median_kw"].to_numpy(dtype=np.float64)[used]
        else:
            codes, x = np.zeros(0, dtype=np.int8), np.zeros(0)
        baseline, mad = group_median_mad(x, codes, size)
        n_used = np.bincount(codes, minlength=size)
        p = self.params
        # np.maximum.reduce of the three, pairwise in the same order
        band = np.maximum(
            np.maximum(p.band_mad_multiplier * MAD_TO_SIGMA * nan_to_zero(mad),
                       p.band_min_fraction * nan_to_zero(baseline)),
            float(p.band_min_kw),
        )
        stages = (n_used > 0).nonzero()[0]
        values = {
            "baseline_kw": baseline[stages],
            "mad_kw": mad[stages],
            "band_kw": band[stages],
            "lower_kw": np.maximum(baseline[stages] - band[stages], 0.0),
            "upper_kw": baseline[stages] + band[stages],
            "n_cycles_used": n_used[stages].astype(np.int64),
        }
        table = build_frame(
            {"stage": categorical(stages.astype(np.int8), validate=False), **values}
        )
        return table, stages, values




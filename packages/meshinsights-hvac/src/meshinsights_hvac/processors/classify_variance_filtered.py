"""3.3 ClassifyPowerVarianceFilteredData: how steady power is inside a stage's cycles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from meshinsights.data_object import PipelineDataObject
from meshinsights_hvac.algorithms.frames import build_frame
from meshinsights_hvac.algorithms.robust import classify, group_median, group_median_mad, robust_cv
from meshinsights_hvac.algorithms.sharing import shared
from meshinsights_hvac.algorithms.stages import categorical, stage_codes
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.params import STAGES
from meshinsights_hvac.processors.base import HVACProcessor, require_frame, sufficient_mask
from meshinsights_hvac.schemas import CLASS_DTYPE, VARIANCE_FILTERED_SCHEMA


class ClassifyPowerVarianceFilteredData(HVACProcessor):
    """Per sufficient stage: median and MAD of its filtered rows, and ``within_cycle_cv``.

    ``within_cycle_cv`` is the median over the stage's valid cycles of each
    cycle's robust CV (1.4826 * MAD / median of its trimmed rows); the class
    is ``stable`` / ``moderate`` / ``unstable`` on it.
    """

    needs_sufficient_stage = True

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(
            Keys.ARTIFACT_VARIANCE_FILTERED, VARIANCE_FILTERED_SCHEMA
        )

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        filtered = require_frame(data_object, Keys.ARTIFACT_FILTERED_DATA, self.name)
        summary = require_frame(data_object, Keys.ARTIFACT_CYCLE_SUMMARY, self.name)
        size = len(STAGES)
        rows_known = shared(data_object, Keys.ARTIFACT_FILTERED_DATA)
        if rows_known is not None:
            codes, power = rows_known["codes"], rows_known["power"]
        else:
            codes = stage_codes(filtered["stage"])
            power = filtered["power_kw"].to_numpy(dtype=np.float64)
        rows = sufficient_mask(data_object, codes)
        power, row_codes = power[rows], codes[rows]
        median, mad = group_median_mad(power, row_codes, size)
        n_samples = np.bincount(row_codes, minlength=size)

        known = shared(data_object, Keys.ARTIFACT_CYCLE_SUMMARY)
        if known is not None:
            cycle_codes, valid = known["codes"], known["valid"]
            cycle_median, cycle_mad = known["median"], known["mad"]
        else:
            cycle_codes = stage_codes(summary["stage"])
            valid = summary["valid"].to_numpy(dtype=bool)
            cycle_median = summary["median_kw"].to_numpy(dtype=np.float64)
            cycle_mad = summary["mad_kw"].to_numpy(dtype=np.float64)
        cycles = valid & sufficient_mask(data_object, cycle_codes)
        cv = robust_cv(cycle_median[cycles], cycle_mad[cycles])
        used_codes = cycle_codes[cycles]
        within = group_median(cv, used_codes, size)
        n_cycles = np.bincount(used_codes, minlength=size)

        stages = (n_samples > 0).nonzero()[0]
        table = build_frame(
            {
                "stage": categorical(stages.astype(np.int8), validate=False),
                "n_samples": n_samples[stages].astype(np.int64),
                "n_cycles": n_cycles[stages].astype(np.int64),
                "median_kw": median[stages],
                "mad_kw": mad[stages],
                "within_cycle_cv": within[stages],
                "variance_class": pd.Categorical.from_codes(
                    classify(within[stages], self.params.within_cycle_stable_cv,
                             self.params.within_cycle_moderate_cv),
                    dtype=CLASS_DTYPE, validate=False,
                ),
            }
        )
        data_object.set_artifact(Keys.ARTIFACT_VARIANCE_FILTERED, table)
        return data_object

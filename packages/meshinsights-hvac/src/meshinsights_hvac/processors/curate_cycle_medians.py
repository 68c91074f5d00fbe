"""3.4 CurateCycleMediansPerStage: the valid cycles of sufficient stages, one row each."""

from __future__ import annotations

import numpy as np

from meshinsights.data_object import PipelineDataObject
from meshinsights_hvac.algorithms.robust import robust_cv
from meshinsights_hvac.algorithms.stages import stage_codes
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.processors.base import HVACProcessor, require_frame, sufficient_mask
from meshinsights_hvac.schemas import CYCLE_MEDIANS_SCHEMA

_COLUMNS = ["cycle_id", "stage", "start", "duration_min", "median_kw", "n_samples"]


class CurateCycleMediansPerStage(HVACProcessor):
    """cycle_id, stage, start, duration, median, samples and within-cycle robust CV."""

    needs_sufficient_stage = True

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(Keys.ARTIFACT_CYCLE_MEDIANS, CYCLE_MEDIANS_SCHEMA)

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        summary = require_frame(data_object, Keys.ARTIFACT_CYCLE_SUMMARY, self.name)
        keep = summary["valid"].to_numpy(dtype=bool) & sufficient_mask(
            data_object, stage_codes(summary["stage"])
        )
        chosen = summary.loc[keep]
        medians = chosen[_COLUMNS].reset_index(drop=True)
        medians["within_cycle_cv"] = robust_cv(
            chosen["median_kw"].to_numpy(dtype=np.float64),
            chosen["mad_kw"].to_numpy(dtype=np.float64),
        )
        data_object.set_artifact(Keys.ARTIFACT_CYCLE_MEDIANS, medians)
        return data_object

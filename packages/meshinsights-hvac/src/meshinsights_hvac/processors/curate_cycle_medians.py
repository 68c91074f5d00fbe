"""3.4 CurateCycleMediansPerStage: the valid cycles of sufficient stages, one row each."""

from __future__ import annotations

import numpy as np

from meshinsights.data_object import PipelineDataObject
from meshinsights_hvac.algorithms.frames import build_frame, column_values
from meshinsights_hvac.algorithms.robust import robust_cv
from meshinsights_hvac.algorithms.sharing import share, shared
from meshinsights_hvac.algorithms.stages import stage_codes
from meshinsights_hvac.algorithms.text import take_rows
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
        known = shared(data_object, Keys.ARTIFACT_CYCLE_SUMMARY)
        if known is not None:
            codes, valid, median, mad = known["codes"], known["valid"], known["median"], known["mad"]
        else:
            codes = stage_codes(summary["stage"])
            valid = summary["valid"].to_numpy(dtype=bool)
            median = summary["median_kw"].to_numpy(dtype=np.float64)
            mad = summary["mad_kw"].to_numpy(dtype=np.float64)
        keep = (valid & sufficient_mask(data_object, codes)).nonzero()[0]
        columns = {c: take_rows(column_values(summary, c), keep) for c in _COLUMNS}
        columns["within_cycle_cv"] = robust_cv(median[keep], mad[keep])
        medians = build_frame(columns)
        data_object.set_artifact(Keys.ARTIFACT_CYCLE_MEDIANS, medians)
        share(data_object, Keys.ARTIFACT_CYCLE_MEDIANS, data_object.get_artifact(
            Keys.ARTIFACT_CYCLE_MEDIANS), {"codes": codes[keep], "median": median[keep]})
        return data_object

"""3.5 ClassifyPowerVarianceCycleMedian: spread of cycle medians and outlier cycles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from meshinsights.data_object import PipelineDataObject
from meshinsights_hvac.algorithms.frames import build_frame, column_names, column_values
from meshinsights_hvac.algorithms.robust import (
    MODIFIED_Z_CONSTANT,
    classify,
    group_median_mad,
    nan_to_zero,
    robust_cv,
)
from meshinsights_hvac.algorithms.sharing import share, shared
from meshinsights_hvac.algorithms.stages import categorical, stage_codes
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.params import STAGES
from meshinsights_hvac.processors.base import HVACProcessor, require_frame
from meshinsights_hvac.schemas import (
    CLASS_DTYPE,
    CYCLE_MEDIANS_OUTLIER_SCHEMA,
    VARIANCE_CYCLE_MEDIANS_SCHEMA,
)


class ClassifyPowerVarianceCycleMedian(HVACProcessor):
    """Per stage over cycle medians: median, MAD, robust CV, class; marks outlier cycles.

    An outlier has |0.6745 * (x - median) / MAD| > ``outlier_z``; with MAD = 0
    the modified z-score is undefined (NaN) and no cycle is an outlier.
    """

    needs_sufficient_stage = True

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(
            Keys.ARTIFACT_VARIANCE_CYCLE_MEDIANS, VARIANCE_CYCLE_MEDIANS_SCHEMA
        )
        data_object.register_artifact_schema(
            Keys.ARTIFACT_CYCLE_MEDIANS, CYCLE_MEDIANS_OUTLIER_SCHEMA
        )

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        medians = require_frame(data_object, Keys.ARTIFACT_CYCLE_MEDIANS, self.name)
        size = len(STAGES)
        known = shared(data_object, Keys.ARTIFACT_CYCLE_MEDIANS)
        if known is not None:
            codes, x = known["codes"], known["median"]
        else:
            codes = stage_codes(medians["stage"])
            x = medians["median_kw"].to_numpy(dtype=np.float64)
        median, mad = group_median_mad(x, codes, size)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = MODIFIED_Z_CONSTANT * (x - median[codes]) / mad[codes]
        z = np.where(mad[codes] > 0, z, np.nan)
        outlier = np.abs(nan_to_zero(z)) > self.params.outlier_z
        n_cycles = np.bincount(codes, minlength=size)
        n_outliers = np.bincount(codes[outlier], minlength=size)
        cv = robust_cv(median, mad)

        marked = _marked(medians, z, outlier)
        stages = (n_cycles > 0).nonzero()[0]
        table = build_frame(
            {
                "stage": categorical(stages.astype(np.int8), validate=False),
                "n_cycles": n_cycles[stages].astype(np.int64),
                "median_kw": median[stages],
                "mad_kw": mad[stages],
                "robust_cv": cv[stages],
                "n_outliers": n_outliers[stages].astype(np.int64),
                "cycle_median_class": pd.Categorical.from_codes(
                    classify(cv[stages], self.params.cycle_median_stable_cv,
                             self.params.cycle_median_moderate_cv),
                    dtype=CLASS_DTYPE, validate=False,
                ),
            }
        )
        data_object.set_artifact(Keys.ARTIFACT_CYCLE_MEDIANS, marked)
        share(data_object, Keys.ARTIFACT_CYCLE_MEDIANS, data_object.get_artifact(
            Keys.ARTIFACT_CYCLE_MEDIANS), {"codes": codes, "median": x, "outlier": outlier})
        data_object.set_artifact(Keys.ARTIFACT_VARIANCE_CYCLE_MEDIANS, table)
        return data_object


def _marked(medians: pd.DataFrame, z: np.ndarray, outlier: np.ndarray) -> pd.DataFrame:
    """``medians.assign(modified_z=z, outlier=outlier)``, built in one step when it can be."""
    names = column_names(medians)
    plain = (
        isinstance(medians.index, pd.RangeIndex) and medians.index.start == 0
        and medians.index.step == 1 and all(type(c) is str for c in names)
        and "modified_z" not in names and "outlier" not in names
    )
    if not plain:
        return medians.assign(modified_z=z, outlier=outlier)
    # every array is this frame's own copy, as assign's copy-on-write would give
    columns = {c: column_values(medians, c).copy() for c in names}
    return build_frame({**columns, "modified_z": z, "outlier": outlier})

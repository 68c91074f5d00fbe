"""HVACPipelineDataObject: the per-device state with the HVAC artifact keys and status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from meshinsights.data_object import PipelineDataObject

STATUS_OK = "ok"
STATUS_INSUFFICIENT = "insufficient_data"
STATUS_FAILED = "failed"


class HVACPipelineDataObject(PipelineDataObject):
    """A device's data object, with the keys the HVAC processors read and write.

    ``status`` is ``failed`` when an error was recorded, ``insufficient_data``
    when the sufficiency check found no stage with enough valid cycles (a
    normal outcome), else ``ok``.
    """

    DATASET_POWER = "hvac_power"
    ARTIFACT_CYCLE_SUMMARY = "cycles/summary"
    ARTIFACT_FILTERED_DATA = "cycles/filtered_data"
    ARTIFACT_SUFFICIENCY = "cycles/sufficiency"
    ARTIFACT_VARIANCE_FILTERED = "variance/filtered_data"
    ARTIFACT_CYCLE_MEDIANS = "cycles/medians"
    ARTIFACT_VARIANCE_CYCLE_MEDIANS = "variance/cycle_medians"
    ARTIFACT_BASELINE_THRESHOLDS = "baseline/thresholds"
    ARTIFACT_BASELINE_THRESHOLDS_TABLE = "baseline/thresholds_table"
    ARTIFACT_ISSUES_PER_STAGE = "issues/per_stage"

    def __init__(
        self,
        pipeline_name: str,
        config: Mapping[str, Any] | None = None,
        normalized_data: Mapping[str, pd.DataFrame] | None = None,
        *,
        freeze: bool = True,
    ) -> None:
        super().__init__(pipeline_name, config, normalized_data, freeze=freeze)

    @property
    def sufficient_stages(self) -> list[str]:
        """Stages with enough valid cycles (empty before the sufficiency check ran)."""
        table = self.artifacts.get(self.ARTIFACT_SUFFICIENCY)
        if not isinstance(table, pd.DataFrame) or table.empty:
            return []
        return [str(s) for s in table.loc[table["sufficient"].to_numpy(dtype=bool), "stage"]]

    @property
    def insufficient_data(self) -> bool:
        """True once the sufficiency check ran and found no sufficient stage."""
        if self.ARTIFACT_SUFFICIENCY not in self.artifacts:
            return False
        return not self.sufficient_stages

    @property
    def status(self) -> str:
        if self.errors:
            return STATUS_FAILED
        return STATUS_INSUFFICIENT if self.insufficient_data else STATUS_OK

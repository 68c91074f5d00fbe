"""What every HVAC processor shares: its parameters and artifact lookups."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from meshinsights.data_object import PipelineDataObject
from meshinsights.errors import SkipProcessor
from meshinsights.processor import Processor
from meshinsights_hvac.algorithms.stages import stage_codes
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.params import HVACParams


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
            if not sufficiency["sufficient"].to_numpy(dtype=bool).any():
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
    sufficiency = data_object.get_artifact(Keys.ARTIFACT_SUFFICIENCY)
    if not isinstance(sufficiency, pd.DataFrame) or sufficiency.empty:
        return np.zeros(len(codes), dtype=bool)
    ok = stage_codes(sufficiency["stage"])[sufficiency["sufficient"].to_numpy(dtype=bool)]
    return np.isin(codes, ok)

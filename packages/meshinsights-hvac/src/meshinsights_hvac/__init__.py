"""HVAC power analysis for MeshInsights.

Turns per-device HVAC power telemetry into cycles, per-stage baselines,
thresholds and issues. The public names are imported on first use so that
plugin discovery stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "HVACParams": "meshinsights_hvac.params",
    "HVACParamsError": "meshinsights_hvac.params",
    "PowerSource": "meshinsights_hvac.params",
    "HVACPipelineDataObject": "meshinsights_hvac.data_object",
    "PowerDataRetrieval": "meshinsights_hvac.data_sources",
    "PowerDataNormalizer": "meshinsights_hvac.normalizers",
    "HVACResultsAdapter": "meshinsights_hvac.results",
    "FilterValidCycles": "meshinsights_hvac.processors",
    "CheckSufficientCycles": "meshinsights_hvac.processors",
    "ClassifyPowerVarianceFilteredData": "meshinsights_hvac.processors",
    "CurateCycleMediansPerStage": "meshinsights_hvac.processors",
    "ClassifyPowerVarianceCycleMedian": "meshinsights_hvac.processors",
    "CalculateBaselinePowerThresholds": "meshinsights_hvac.processors",
    "create_hvac_data_sources": "meshinsights_hvac.factories",
    "create_hvac_normalizers": "meshinsights_hvac.factories",
    "create_hvac_processors": "meshinsights_hvac.factories",
    "create_hvac_data_object": "meshinsights_hvac.factories",
    "HVAC_SOLUTION_NAME": "meshinsights_hvac.solution",
    "hvac_solution": "meshinsights_hvac.solution",
    "validate_hvac_parameters": "meshinsights_hvac.solution",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshinsights_hvac' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from meshinsights_hvac.data_object import HVACPipelineDataObject
    from meshinsights_hvac.data_sources import PowerDataRetrieval
    from meshinsights_hvac.factories import (
        create_hvac_data_object,
        create_hvac_data_sources,
        create_hvac_normalizers,
        create_hvac_processors,
    )
    from meshinsights_hvac.normalizers import PowerDataNormalizer
    from meshinsights_hvac.params import HVACParams, HVACParamsError, PowerSource
    from meshinsights_hvac.processors import (
        CalculateBaselinePowerThresholds,
        CheckSufficientCycles,
        ClassifyPowerVarianceCycleMedian,
        ClassifyPowerVarianceFilteredData,
        CurateCycleMediansPerStage,
        FilterValidCycles,
    )
    from meshinsights_hvac.results import HVACResultsAdapter
    from meshinsights_hvac.solution import (
        HVAC_SOLUTION_NAME,
        hvac_solution,
        validate_hvac_parameters,
    )

"""The six HVAC processors, in chain order."""

from meshinsights_hvac.processors.calculate_baseline_thresholds import (
    CalculateBaselinePowerThresholds,
)
from meshinsights_hvac.processors.check_sufficient_cycles import CheckSufficientCycles
from meshinsights_hvac.processors.classify_variance_cycle_median import (
    ClassifyPowerVarianceCycleMedian,
)
from meshinsights_hvac.processors.classify_variance_filtered import (
    ClassifyPowerVarianceFilteredData,
)
from meshinsights_hvac.processors.curate_cycle_medians import CurateCycleMediansPerStage
from meshinsights_hvac.processors.filter_valid_cycles import FilterValidCycles

#: Chain order (section 3).
PROCESSOR_CLASSES = (
    FilterValidCycles,
    CheckSufficientCycles,
    ClassifyPowerVarianceFilteredData,
    CurateCycleMediansPerStage,
    ClassifyPowerVarianceCycleMedian,
    CalculateBaselinePowerThresholds,
)

__all__ = [
    "PROCESSOR_CLASSES",
    "CalculateBaselinePowerThresholds",
    "CheckSufficientCycles",
    "ClassifyPowerVarianceCycleMedian",
    "ClassifyPowerVarianceFilteredData",
    "CurateCycleMediansPerStage",
    "FilterValidCycles",
]

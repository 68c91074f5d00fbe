"""The ``hvac-power`` solution: the five factories, the ``[hvac]`` table and its check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshinsights.solution import Solution
from meshinsights_hvac.demo_config import write_demo
from meshinsights_hvac.factories import (
    create_hvac_data_object,
    create_hvac_data_sources,
    create_hvac_normalizers,
    create_hvac_processors,
)
from meshinsights_hvac.params import HVACParams
from meshinsights_hvac.results import HVACResultsAdapter

if TYPE_CHECKING:
    from meshinsights.ledger import DeviceRecord

HVAC_SOLUTION_NAME = "hvac-power"


def build_hvac_report(out_dir: Path, records: Sequence[DeviceRecord], manifest: dict[str, Any]) -> str:
    """``report.html`` with charts; imported on use so that the solution does not load matplotlib."""
    from meshinsights_hvac.report import build_report

    return build_report(out_dir, records, manifest)


def validate_hvac_parameters(parameters: Mapping[str, Any]) -> HVACParams:
    """Raise :class:`HVACParamsError` naming the key when an ``[hvac]`` value is bad."""
    return HVACParams.from_mapping(parameters)


def hvac_solution() -> Solution:
    """The Solution object registered under ``hvac-power``."""
    return Solution(
        name=HVAC_SOLUTION_NAME,
        data_source_factory=create_hvac_data_sources,
        normalizer_factory=create_hvac_normalizers,
        processor_factory=create_hvac_processors,
        data_object_factory=create_hvac_data_object,
        results_adapter_factory=HVACResultsAdapter,
        parameters_key="hvac",
        default_parameters={},
        validate_parameters=validate_hvac_parameters,
        demo=write_demo,
        report_builder=build_hvac_report,
        description=(
            "HVAC power analysis: cycles, per-stage baselines and thresholds, "
            "and issues (short cycling, no power, unstable or drifting power, ...)"
        ),
    )

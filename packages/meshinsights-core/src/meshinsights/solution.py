"""Solution: a named bundle of the five pipeline factories and default parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from meshinsights.errors import PluginError

if TYPE_CHECKING:
    from meshinsights.device import DeviceUnit
    from meshinsights.pipeline import (
        DataObjectFactory,
        DataSourceFactory,
        NormalizerFactory,
        ProcessorFactory,
    )
    from meshinsights.processor import Processor
    from meshinsights.results import ResultsAdapter


@attrs.frozen
class Solution:
    """What a solution plugin registers with ``register_solutions``.

    The factories take a :class:`DeviceUnit` exactly as :class:`Pipeline`'s do.
    ``parameters_key`` names the run config table (``[hvac]``) whose values,
    over ``default_parameters``, reach every device as
    ``device.parameters[parameters_key]``; a device's own values win.
    ``validate_parameters`` checks them before any work starts.
    """

    name: str
    data_source_factory: DataSourceFactory
    normalizer_factory: NormalizerFactory
    processor_factory: ProcessorFactory
    data_object_factory: DataObjectFactory | None = None
    results_adapter_factory: Callable[[], ResultsAdapter] | None = None
    parameters_key: str | None = None
    default_parameters: Mapping[str, Any] = attrs.field(factory=dict)
    validate_parameters: Callable[[Mapping[str, Any]], Any] | None = None
    #: Builds ``report.html`` (``meshinsights.outputs.ReportBuilder``); None: the generic report.
    report_builder: Callable[..., str] | None = None
    #: ``demo(out_dir, n_devices, seed) -> config path``: writes demo data and a run
    #: config that reads it (``meshinsights demo``); None when the solution has no demo.
    demo: Callable[[Path, int, int], Path] | None = None
    description: str = ""

    def device_parameters(
        self, device: DeviceUnit, run_parameters: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The solution parameters for one device: defaults < run < device."""
        merged = {**self.default_parameters, **(run_parameters or {})}
        if self.parameters_key:
            merged.update(device.parameters.get(self.parameters_key) or {})
        return merged


@attrs.frozen
class ExtendedProcessorFactory:
    """A solution's processor chain with extra registered processors appended.

    A module-level class (not a closure) so that it pickles for process and
    Dask executors.
    """

    base: ProcessorFactory
    extra: tuple[type[Processor], ...]

    def __call__(self, device: DeviceUnit) -> Sequence[Processor]:
        return [*self.base(device), *(cls() for cls in self.extra)]


def find_solution(name: str) -> Solution:
    """The installed solution registered under ``name``."""
    from meshinsights.plugins import get_registry

    solutions = get_registry().solutions
    if name not in solutions:
        available = ", ".join(sorted(solutions)) or "none installed"
        raise PluginError(f"no solution named {name!r} (available: {available})")
    solution = solutions[name].obj
    if not isinstance(solution, Solution):
        raise PluginError(f"solution {name!r} is a {type(solution).__name__}, not a Solution")
    return solution


def find_processors(names: Sequence[str]) -> tuple[type[Processor], ...]:
    """Registered processor classes by name, failing on the first unknown one."""
    from meshinsights.plugins import get_registry

    processors = get_registry().processors
    missing = [n for n in names if n not in processors]
    if missing:
        available = ", ".join(sorted(processors)) or "none installed"
        raise PluginError(
            f"unknown processor(s) in extra_processors: {', '.join(map(repr, missing))} "
            f"(registered: {available})"
        )
    return tuple(processors[n].obj for n in names)

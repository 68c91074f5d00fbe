"""Hook specifications: what a MeshInsights plugin may implement.

Registration hooks receive a ``register(name, obj)`` callback owned by the
host, which keeps the registries and reports two plugins claiming one name.
Lifecycle hooks are notifications for observers (progress, metrics); their
return values are ignored. Every hook is called with keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from meshinsights.markers import hookspec

if TYPE_CHECKING:
    from meshinsights.data_object import PipelineDataObject
    from meshinsights.device import DeviceUnit
    from meshinsights.pipeline_config import PipelineConfig
    from meshinsights.results import BatchResults

Register = Callable[[str, Any], None]


@hookspec
def register_connectors(register: Register) -> None:
    """Register :class:`~meshinsights.DBConnector` subclasses: ``register("mysql", MySQLConnector)``.

    Called once, when a connector is first looked up. Import heavy client
    libraries inside the hook, not at module import.
    """


@hookspec
def register_data_sources(register: Register) -> None:
    """Register :class:`~meshinsights.DataSource` subclasses or factories by name."""


@hookspec
def register_normalizers(register: Register) -> None:
    """Register :class:`~meshinsights.DataNormalizer` subclasses or factories by name."""


@hookspec
def register_processors(register: Register) -> None:
    """Register :class:`~meshinsights.Processor` subclasses by name.

    Registered processors can be appended to any solution's chain with the run
    config's ``extra_processors``; the class is called with no arguments.
    """


@hookspec
def register_results_adapters(register: Register) -> None:
    """Register :class:`~meshinsights.ResultsAdapter` subclasses by name."""


@hookspec
def register_solutions(register: Register) -> None:
    """Register :class:`~meshinsights.Solution` objects: ``register("hvac-power", solution)``."""


@hookspec
def on_run_start(config: PipelineConfig, devices: Sequence[DeviceUnit], run_id: str) -> None:
    """Called once before the first batch, with the whole device list."""


@hookspec
def on_batch_start(batch_index: int, devices: Sequence[DeviceUnit], run_id: str) -> None:
    """Called when Stage 2 starts on a batch (its Stage 1 data is ready)."""


@hookspec
def on_device_end(device_id: str, data_object: PipelineDataObject, run_id: str) -> None:
    """Called when a device's processors have finished, whether it succeeded or failed."""


@hookspec
def on_batch_end(batch_index: int, results: BatchResults, run_id: str) -> None:
    """Called when a batch's Stage 2 is over, with that batch's results."""


@hookspec
def on_run_end(results: BatchResults, run_id: str) -> None:
    """Called once after the last batch (also after a stop on error)."""

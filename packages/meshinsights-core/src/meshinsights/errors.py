"""Exceptions of the pipeline, each naming what failed and where."""

from __future__ import annotations


class MeshInsightsError(Exception):
    """Base class of every error raised by MeshInsights itself."""


class ConfigError(MeshInsightsError):
    """A configuration value is missing, unknown or invalid."""


class PluginError(MeshInsightsError):
    """A plugin could not be found, loaded or registered."""


class ConnectorError(MeshInsightsError):
    """A connector failed to connect or to run a query."""


class NormalizationError(MeshInsightsError):
    """Raw data could not be normalized (a column is missing or unreadable)."""


class FrozenDatasetError(MeshInsightsError, TypeError):
    """A processor tried to replace a read-only normalized dataset."""


class SkipProcessor(MeshInsightsError):
    """Raised by a processor to skip itself for this device, with a reason.

    The skip is recorded as a warning on the data object, not an error.
    """


class ProcessorError(MeshInsightsError):
    """A processor failed; the device's chain stops (the error is already recorded)."""


class DeviceError(MeshInsightsError):
    """A failure of one device, naming the device, the stage, the component and the cause."""

    def __init__(self, device_id: str, stage: str, component: str, cause: str) -> None:
        self.device_id = device_id
        self.stage = stage
        self.component = component
        self.cause = cause
        super().__init__(f"device {device_id!r}: {stage} stage, {component}: {cause}")

"""MeshInsights: a plugin-first two-stage batch pipeline for IoT device fleets.

The public API is re-exported here and imported on first use, so that
``import meshinsights`` (and the CLI's ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from meshinsights.markers import hookimpl, hookspec

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "BatchResults": "meshinsights.results",
    "ConfigError": "meshinsights.errors",
    "ConnectorError": "meshinsights.errors",
    "DataNormalizer": "meshinsights.normalizer",
    "DataSource": "meshinsights.data_source",
    "DBConnector": "meshinsights.connectors",
    "DeviceError": "meshinsights.errors",
    "DeviceUnit": "meshinsights.device",
    "FrozenDatasetError": "meshinsights.errors",
    "IOBatch": "meshinsights.results",
    "MeshInsightsError": "meshinsights.errors",
    "Message": "meshinsights.messages",
    "NormalizationError": "meshinsights.errors",
    "Pipeline": "meshinsights.pipeline",
    "PipelineConfig": "meshinsights.pipeline_config",
    "PipelineDataObject": "meshinsights.data_object",
    "PluginError": "meshinsights.errors",
    "PluginManager": "meshinsights.connectors",
    "Processor": "meshinsights.processor",
    "ProcessorError": "meshinsights.errors",
    "ResultsAdapter": "meshinsights.results",
    "SkipProcessor": "meshinsights.errors",
    "StageSpan": "meshinsights.results",
    "StageTiming": "meshinsights.results",
    "Solution": "meshinsights.solution",
}

__all__ = [
    "BatchResults",
    "ConfigError",
    "ConnectorError",
    "DBConnector",
    "DataNormalizer",
    "DataSource",
    "DeviceError",
    "DeviceUnit",
    "FrozenDatasetError",
    "IOBatch",
    "MeshInsightsError",
    "Message",
    "NormalizationError",
    "Pipeline",
    "PipelineConfig",
    "PipelineDataObject",
    "PluginError",
    "PluginManager",
    "Processor",
    "ProcessorError",
    "ResultsAdapter",
    "SkipProcessor",
    "Solution",
    "StageSpan",
    "StageTiming",
    "__version__",
    "hookimpl",
    "hookspec",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshinsights' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from meshinsights.connectors import DBConnector, PluginManager
    from meshinsights.data_object import PipelineDataObject
    from meshinsights.data_source import DataSource
    from meshinsights.device import DeviceUnit
    from meshinsights.errors import (
        ConfigError,
        ConnectorError,
        DeviceError,
        FrozenDatasetError,
        MeshInsightsError,
        NormalizationError,
        PluginError,
        ProcessorError,
        SkipProcessor,
    )
    from meshinsights.messages import Message
    from meshinsights.normalizer import DataNormalizer
    from meshinsights.pipeline import Pipeline
    from meshinsights.pipeline_config import PipelineConfig
    from meshinsights.processor import Processor
    from meshinsights.results import BatchResults, IOBatch, ResultsAdapter, StageSpan, StageTiming
    from meshinsights.solution import Solution

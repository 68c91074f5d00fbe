"""Azure Data Explorer (Kusto) connector for MeshInsights.

Heavy imports (azure-kusto-data, pandas) happen on first use of an export,
so loading the plugin entry point stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "ADXConnector": "meshinsights_connector_adx.connector",
    "ADXConnectionManager": "meshinsights_connector_adx.pool",
    "ADXQueryError": "meshinsights_connector_adx.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshinsights_connector_adx' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from meshinsights_connector_adx.connector import ADXConnector
    from meshinsights_connector_adx.errors import ADXQueryError
    from meshinsights_connector_adx.pool import ADXConnectionManager

"""SiteSage REST API connector for MeshInsights (contract in the package README).

Exports are imported on first use, so loading the plugin entry point stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "SiteSageConnector": "meshinsights_connector_sitesage.connector",
    "SiteSageSessions": "meshinsights_connector_sitesage.sessions",
    "SiteSageError": "meshinsights_connector_sitesage.errors",
    "CONTROLS_ENDPOINT": "meshinsights_connector_sitesage.endpoints",
    "POWER_ENDPOINT": "meshinsights_connector_sitesage.endpoints",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshinsights_connector_sitesage' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from meshinsights_connector_sitesage.connector import SiteSageConnector
    from meshinsights_connector_sitesage.endpoints import CONTROLS_ENDPOINT, POWER_ENDPOINT
    from meshinsights_connector_sitesage.errors import SiteSageError
    from meshinsights_connector_sitesage.sessions import SiteSageSessions

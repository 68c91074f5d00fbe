"""The ``file`` connector of MeshInsights: SQL over CSV and Parquet files with DuckDB.

``FileConnector`` is imported on first use, so that discovering the plugin
does not load DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["FileConnector"]

if TYPE_CHECKING:
    from meshinsights_connector_file.connector import FileConnector


def __getattr__(name: str) -> Any:
    if name == "FileConnector":
        from meshinsights_connector_file.connector import FileConnector

        return FileConnector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

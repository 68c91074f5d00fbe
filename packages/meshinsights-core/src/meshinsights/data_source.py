"""DataSource: builds a query for one device and fetches it through a connector."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from meshinsights.connectors import DBConnector, PluginManager, QueryParameters
from meshinsights.redaction import redact

if TYPE_CHECKING:
    import pandas as pd


class DataSource(ABC):
    """Data acquisition for one dataset of one device.

    Subclasses write :meth:`build_query` (and :meth:`build_parameters` for the
    values, which are never formatted into the query). The connector is looked
    up lazily from :class:`PluginManager`, so a source is cheap to create and
    pooled clients are shared by every source with the same connection config.
    """

    def __init__(
        self, name: str, plugin_name: str, plugin_config: Mapping[str, Any] | None = None
    ) -> None:
        self.name = name
        self.plugin_name = plugin_name
        self.plugin_config: dict[str, Any] = dict(plugin_config or {})
        self._plugin: DBConnector | None = None

    @property
    def plugin(self) -> DBConnector:
        """The pooled connector for this source's config, looked up on first use."""
        if self._plugin is None:
            self._plugin = PluginManager.get_plugin(self.plugin_name, **self.plugin_config)
        return self._plugin

    @abstractmethod
    def build_query(self) -> str:
        """The query text, in the connector's language, with placeholders for values."""

    def build_parameters(self) -> QueryParameters:
        """Values for the query's placeholders, sent separately from the text."""
        return None

    def fetch(self) -> pd.DataFrame:
        """Run the query through the connector and return its DataFrame."""
        plugin = self.plugin
        plugin.connect()
        return plugin.execute_query(self.build_query(), self.build_parameters())

    # -- batched fetches ------------------------------------------------------
    @classmethod
    def build_batch(cls, sources: Sequence[DataSource]) -> tuple[str, QueryParameters] | None:
        """One query fetching the data of several devices' sources, or None.

        Override with :meth:`split_batch` to let Stage 1 send one query per
        batch instead of one per device. Called only with sources of this
        class, dataset name, connector and connector config; returning None
        (the default) fetches them one by one.
        """
        return None

    def split_batch(self, frame: pd.DataFrame) -> pd.DataFrame:
        """This source's rows of a batched result (an empty frame when it has none)."""
        raise NotImplementedError(f"{type(self).__name__} builds batches but cannot split them")

    @classmethod
    def split_batches(cls, frame: pd.DataFrame, sources: Sequence[DataSource]) -> list[pd.DataFrame]:
        """Every source's rows of a batched result, in the order of ``sources``.

        The default calls :meth:`split_batch` once per source, which scans the
        whole frame each time; override it to split in one pass (for example
        one ``groupby(...).indices``) when batches are large.
        """
        return [source.split_batch(frame) for source in sources]

    @classmethod
    def batches(cls) -> bool:
        """Whether this class overrides :meth:`build_batch`."""
        return cls.build_batch.__func__ is not DataSource.build_batch.__func__  # type: ignore[attr-defined]

    def validate_connection(self) -> bool:
        """Probe the connector; False (never an exception) when unreachable."""
        try:
            return bool(self.plugin.validate_connection())
        except Exception:  # noqa: BLE001 - a probe answers yes or no
            return False

    def get_metadata(self) -> dict[str, Any]:
        """Name, plugin and the connection config with secrets masked."""
        return {
            "name": self.name,
            "source": type(self).__name__,
            "plugin": self.plugin_name,
            "config": redact(self.plugin_config),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, plugin={self.plugin_name!r})"

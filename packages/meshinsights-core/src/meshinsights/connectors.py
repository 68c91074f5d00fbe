"""DB connectors and the PluginManager that pools them per configuration."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from meshinsights.errors import PluginError
from meshinsights.redaction import config_hash, redact

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

QueryParameters = Mapping[str, Any] | Sequence[Any] | None


class DBConnector(ABC):
    """Contract of a datastore connector: queries in, pandas DataFrames out.

    Instances are shared: :class:`PluginManager` hands the same instance to
    every caller with an equal config, from many threads at once, so
    implementations must be thread safe. Values always travel in
    ``parameters``, never formatted into ``query``. ``repr`` and
    :meth:`get_metadata` never show secrets.
    """

    #: The name the connector is registered under (set by the registry).
    plugin_name: ClassVar[str] = ""
    #: Config keys holding file-system paths; a run config's relative values are
    #: resolved against the config file's folder, not the working directory.
    path_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **config: Any) -> None:
        self._config = dict(config)

    @property
    def safe_config(self) -> dict[str, Any]:
        """The config with secrets masked, for logs and metadata."""
        return redact(self._config)

    @abstractmethod
    def connect(self) -> tuple[Any, Any]:
        """Open (or reuse) the underlying client; return ``(client, database_or_cursor)``."""

    @abstractmethod
    def execute_query(self, query: str, parameters: QueryParameters = None) -> pd.DataFrame:
        """Run ``query`` with ``parameters`` passed separately; return a DataFrame."""

    def disconnect(self) -> None:
        """Release this instance's local references; pooled clients stay open."""

    def close(self) -> None:
        """Close pooled clients for good (called by :meth:`PluginManager.cleanup`)."""
        self.disconnect()

    def validate_connection(self) -> bool:
        """Cheap reachability probe; connectors override with a real round trip."""
        self.connect()
        return True

    def get_metadata(self) -> dict[str, Any]:
        return {"plugin": self.plugin_name or type(self).__name__, "config": self.safe_config}

    def __enter__(self) -> DBConnector:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.safe_config!r})"


class PluginManager:
    """Registry of connector classes and pool of their instances.

    ``get_plugin(name, **config)`` returns one shared instance per
    ``(name, config_hash(config))``: identical configs reuse a client, configs
    that differ in anything (tenant, credentials, database) never share one.
    Connectors of installed plugin packages are found through the
    ``register_connectors`` hook without any explicit registration.
    """

    _registry: ClassVar[dict[str, type[DBConnector]]] = {}
    _instances: ClassVar[dict[tuple[str, str], DBConnector]] = {}
    _lock: ClassVar[threading.RLock] = threading.RLock()

    @classmethod
    def register_plugin(cls, name: str, plugin_cls: type[DBConnector]) -> None:
        """Register ``plugin_cls`` under ``name``; explicit registration wins over plugins."""
        if not (isinstance(plugin_cls, type) and issubclass(plugin_cls, DBConnector)):
            raise PluginError(f"connector {name!r}: {plugin_cls!r} is not a DBConnector subclass")
        with cls._lock:
            cls._registry[name] = plugin_cls

    @classmethod
    def unregister_plugin(cls, name: str) -> None:
        with cls._lock:
            cls._registry.pop(name, None)

    @classmethod
    def registered_classes(cls) -> dict[str, type[DBConnector]]:
        """The classes registered explicitly (``register_plugin``), not the discovered ones."""
        with cls._lock:
            return dict(cls._registry)

    @classmethod
    def connector_class(cls, name: str) -> type[DBConnector]:
        """The class registered (explicitly or by a plugin) under ``name``."""
        found = cls._registry.get(name)
        if found is not None:
            return found
        from meshinsights.plugins import get_registry

        discovered = get_registry().connectors
        if name in discovered:
            return discovered[name].obj  # type: ignore[no-any-return]
        raise PluginError(
            f"no connector named {name!r}; available: {', '.join(cls.list_plugins()) or 'none'} "
            "(install the package that provides it, e.g. meshinsights-connector-" + name + ")"
        )

    @classmethod
    def pool_key(cls, name: str, **config: Any) -> tuple[str, str]:
        """The key an instance is pooled under: the name and a non-reversible config hash."""
        return (name, config_hash(config))

    @classmethod
    def get_plugin(cls, name: str, **config: Any) -> DBConnector:
        """The pooled connector instance for ``name`` and this exact config."""
        key = cls.pool_key(name, **config)
        instance = cls._instances.get(key)
        if instance is not None:
            return instance
        with cls._lock:
            instance = cls._instances.get(key)
            if instance is None:
                connector_cls = cls.connector_class(name)
                instance = connector_cls(**config)
                cls._instances[key] = instance
                logger.debug("connector %s created for config %s", name, key[1][:12])
        return instance

    @classmethod
    def list_plugins(cls) -> list[str]:
        from meshinsights.plugins import get_registry

        return sorted(set(cls._registry) | set(get_registry().connectors))

    @classmethod
    def active_connections(cls) -> list[tuple[str, str]]:
        return list(cls._instances)

    @classmethod
    def cleanup(cls) -> None:
        """Close every pooled connector (best effort: one failure does not stop the rest)."""
        with cls._lock:
            instances = list(cls._instances.items())
            cls._instances.clear()
        for (name, _), instance in instances:
            try:
                instance.close()
            except Exception as exc:  # noqa: BLE001 - cleanup must reach every connector
                logger.warning("closing connector %s failed: %s", name, type(exc).__name__)

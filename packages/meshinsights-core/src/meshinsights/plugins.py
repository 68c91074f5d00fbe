"""Plugin loading: built-ins and ``meshinsights`` entry points, each in isolation.

Nothing is imported until the registry or the hooks are first needed. A
plugin that fails to import, or implements a hook with no spec, is recorded
with its distribution, version and traceback and left out; the others keep
working. Strict mode (``MESHINSIGHTS_STRICT_PLUGINS=1``) turns that into an
error; ``MESHINSIGHTS_DISABLE_PLUGINS=a,b`` blocks plugins by entry-point name.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import attrs
import pluggy

from meshinsights import hookspecs
from meshinsights.errors import PluginError
from meshinsights.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from meshinsights.registry import CATEGORIES, Registry

logger = logging.getLogger(__name__)

#: Core's own plugins, registered like any other (and before entry points).
DEFAULT_PLUGINS: tuple[str, ...] = ("meshinsights.builtin.memory",)

DISABLE_ENV = "MESHINSIGHTS_DISABLE_PLUGINS"
STRICT_ENV = "MESHINSIGHTS_STRICT_PLUGINS"
CORE_DISTRIBUTION = "meshinsights-core"


@attrs.define
class PluginRecord:
    """What ``meshinsights plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str
    version: str
    source: str  # "builtin" | "entry-point" | "manual"
    load_seconds: float = 0.0
    error: str | None = None
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.blocked


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def disabled_from_env() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _core_version() -> str:
    try:
        from importlib.metadata import version

        return version(CORE_DISTRIBUTION)
    except Exception:  # noqa: BLE001 - running from a source tree
        return "unknown"


class PluginHost:
    """A pluggy manager, its load report and the registries its plugins filled."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        builtins: Iterable[str] = DEFAULT_PLUGINS,
        disabled: Iterable[str] | None = None,
        strict: bool | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.strict = _env_flag(STRICT_ENV) if strict is None else strict
        self.disabled = disabled_from_env() if disabled is None else set(disabled)
        self._load_entry_points = load_entry_points
        self._builtins = tuple(builtins)
        self._loaded = False
        self._registry: Registry | None = None
        self._lock = threading.RLock()

    # -- loading --------------------------------------------------------------
    def load(self) -> PluginHost:
        """Load built-ins and entry points once; later calls do nothing."""
        with self._lock:
            if self._loaded:
                return self
            self._loaded = True
            for module_name in self._builtins:
                self._load_one(
                    name=module_name.rsplit(".", 1)[-1],
                    module=module_name,
                    loader=lambda m=module_name: importlib.import_module(m),
                    distribution=CORE_DISTRIBUTION,
                    version=_core_version(),
                    source="builtin",
                )
            if self._load_entry_points:
                for ep in entry_points(group=ENTRY_POINT_GROUP):
                    self._load_entry_point(ep)
            self._raise_if_strict()
            return self

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        self._load_one(
            name=ep.name,
            module=ep.value,
            loader=ep.load,
            distribution=dist.name if dist is not None else "unknown",
            version=dist.version if dist is not None else "unknown",
            source="entry-point",
        )

    def _load_one(
        self, *, name: str, module: str, loader: Any, distribution: str, version: str, source: str
    ) -> None:
        record = PluginRecord(
            name=name, module=module, distribution=distribution, version=version, source=source
        )
        previous = self.records.get(name)
        if previous is not None:
            record.error = (
                f"plugin name {name!r} is used by {previous.distribution} {previous.version} "
                f"and by {distribution} {version}; this one was not loaded"
            )
            self.records[f"{name} ({distribution})"] = record
            logger.error("%s", record.error)
            return
        self.records[name] = record
        if name in self.disabled:
            record.blocked = True
            self.pm.set_blocked(name)
            return
        started = time.perf_counter()
        try:
            plugin = loader()
            self.pm.register(plugin, name=name)
            try:
                self.pm.check_pending()
            except pluggy.PluginValidationError:
                self.pm.unregister(plugin)
                raise
        except Exception:  # noqa: BLE001 - one broken plugin must not take the host down
            record.error = traceback.format_exc()
            logger.warning(
                "plugin %r (%s %s) failed to load and was skipped: %s (details: meshinsights plugins)",
                name, distribution, version, record.error.strip().splitlines()[-1],
            )
            logger.debug("plugin %r load traceback:\n%s", name, record.error)
        finally:
            record.load_seconds = time.perf_counter() - started

    def register(self, plugin: ModuleType | object, name: str | None = None) -> str:
        """Register a plugin object by hand (tests, host applications)."""
        with self._lock:
            self.load()
            plugin_name: str | None = self.pm.register(plugin, name=name)
            if plugin_name is None:
                raise PluginError(f"plugin {name!r} is blocked")
            self.pm.check_pending()
            self.records[plugin_name] = PluginRecord(
                name=plugin_name, module=getattr(plugin, "__name__", type(plugin).__name__),
                distribution="(registered in code)", version="", source="manual",
            )
            self._registry = None
            return plugin_name

    def unregister(self, name: str) -> None:
        with self._lock:
            self.pm.unregister(name=name)
            self.records.pop(name, None)
            self._registry = None

    def _raise_if_strict(self) -> None:
        if not self.strict:
            return
        broken = [r for r in self.records.values() if r.error]
        if broken:
            details = "\n".join(
                f"- {r.name} ({r.distribution} {r.version}): {r.error.strip().splitlines()[-1]}"
                for r in broken if r.error
            )
            raise PluginError(f"strict plugin mode: {len(broken)} plugin(s) failed to load:\n{details}")

    # -- registries -----------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """Call every registration hook once and keep what was registered."""
        with self._lock:
            if self._registry is None:
                self.load()
                self._registry = self._build_registry()
            return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for hook_name, category in CATEGORIES.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                record = self.records.get(impl.plugin_name)
                distribution = record.distribution if record else "unknown"
                register = registry.registrar(category, impl.plugin_name, distribution)
                try:
                    impl.function(register=register)
                except PluginError:
                    raise
                except Exception:  # noqa: BLE001 - a broken hook only loses its own plugin
                    message = traceback.format_exc()
                    if record is not None:
                        record.error = (record.error or "") + message
                    if self.strict:
                        raise PluginError(
                            f"plugin {impl.plugin_name!r} failed in {hook_name}:\n{message}"
                        ) from None
                    logger.error("plugin %r failed in %s:\n%s", impl.plugin_name, hook_name, message)
        return registry

    @property
    def hook(self) -> Any:
        self.load()
        return self.pm.hook


_current: PluginHost | None = None
_current_lock = threading.Lock()


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _current
    host = _current
    if host is None:
        with _current_lock:
            if _current is None:
                _current = PluginHost()
            host = _current
    return host.load()


def get_plugin_manager() -> pluggy.PluginManager:
    """The pluggy manager behind the host (internal; for advanced integrations)."""
    return get_host().pm


def get_registry() -> Registry:
    return get_host().registry


def reset_host(host: PluginHost | None = None) -> None:
    """Replace the process-wide host (``None``: rediscover on next use)."""
    global _current
    with _current_lock:
        _current = host


@contextmanager
def use_host(host: PluginHost) -> Iterator[PluginHost]:
    """Make ``host`` the process-wide host for the duration of a block (tests)."""
    global _current
    with _current_lock:
        previous, _current = _current, host
    try:
        yield host.load()
    finally:
        with _current_lock:
            _current = previous

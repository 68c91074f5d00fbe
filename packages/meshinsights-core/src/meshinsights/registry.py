"""Name -> object registries, filled through the plugins' ``register`` callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from meshinsights.errors import PluginError

#: Registration hook name -> registry attribute.
CATEGORIES: dict[str, str] = {
    "register_connectors": "connectors",
    "register_data_sources": "data_sources",
    "register_normalizers": "normalizers",
    "register_processors": "processors",
    "register_results_adapters": "results_adapters",
    "register_solutions": "solutions",
}


@attrs.frozen
class Registered:
    """One registered object and who registered it."""

    name: str
    obj: Any
    plugin: str
    distribution: str


@attrs.define
class Registry:
    """What every loaded plugin registered, by category and name."""

    connectors: dict[str, Registered] = attrs.field(factory=dict)
    data_sources: dict[str, Registered] = attrs.field(factory=dict)
    normalizers: dict[str, Registered] = attrs.field(factory=dict)
    processors: dict[str, Registered] = attrs.field(factory=dict)
    results_adapters: dict[str, Registered] = attrs.field(factory=dict)
    solutions: dict[str, Registered] = attrs.field(factory=dict)

    def category(self, name: str) -> dict[str, Registered]:
        table: dict[str, Registered] = getattr(self, name)
        return table

    def registrar(self, category: str, plugin: str, distribution: str) -> Callable[[str, Any], None]:
        """The ``register`` callback handed to one plugin for one category."""
        table = self.category(category)
        kind = category.rstrip("s").replace("_", " ")

        def register(name: str, obj: Any) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {plugin!r} registered a {kind} with an invalid name {name!r}")
            existing = table.get(name)
            if existing is not None and existing.obj is not obj:
                raise PluginError(
                    f"{kind} {name!r} is registered twice: by plugin {existing.plugin!r} "
                    f"(distribution {existing.distribution}) and by plugin {plugin!r} "
                    f"(distribution {distribution}); uninstall one or disable it with "
                    "MESHINSIGHTS_DISABLE_PLUGINS"
                )
            table[name] = Registered(name=name, obj=obj, plugin=plugin, distribution=distribution)

        return register

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        """What one plugin registered, per category (for ``meshinsights plugins``)."""
        out: dict[str, list[str]] = {}
        for category in CATEGORIES.values():
            names = sorted(r.name for r in self.category(category).values() if r.plugin == plugin)
            if names:
                out[category] = names
        return out

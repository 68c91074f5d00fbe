"""Arrays shared between the chain's processors.

Arrays a processor already computed for an artifact are remembered next to
it, so the next processors need not read them back out of the DataFrame; they
are used only while that very object is still the artifact stored under its
key, and dropped with the data object (or by the last processor).
"""

from __future__ import annotations

import weakref
from typing import Any

_SHARED: weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, Any]]] = (
    weakref.WeakKeyDictionary()
)


def remember(data_object: Any, key: str, owner: Any, value: Any) -> None:
    """Remember ``value``, computed from ``owner`` (an artifact, the loaded datasets)."""
    _SHARED.setdefault(data_object, {})[key] = (owner, value)


def recall(data_object: Any, key: str, owner: Any) -> Any | None:
    """What :func:`remember` kept under ``key``, if it was computed from this very ``owner``."""
    entry = _SHARED.get(data_object, {}).get(key)
    return None if entry is None or entry[0] is not owner else entry[1]


def share(data_object: Any, key: str, value: Any, arrays: dict[str, Any]) -> None:
    """Remember arrays computed for the artifact ``value`` stored under ``key``."""
    remember(data_object, key, value, arrays)


def forget(data_object: Any) -> None:
    """Drop the arrays remembered for a data object (its chain is over: free the memory)."""
    _SHARED.pop(data_object, None)


def shared(data_object: Any, key: str) -> dict[str, Any] | None:
    """The arrays remembered for ``key``, if that artifact is still the same object."""
    arrays: dict[str, Any] | None = recall(data_object, key, data_object.artifacts.get(key))
    return arrays


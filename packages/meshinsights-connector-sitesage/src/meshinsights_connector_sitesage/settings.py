"""Parse and check a ``sitesage`` connector config."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from meshinsights.errors import ConnectorError

KNOWN_KEYS = frozenset(
    {"base_url", "token", "timeout", "page_size", "retries", "backoff_factor", "retry_after_max",
     "retry_max_seconds", "max_pages", "pool_maxsize"}
)
DEFAULT_TIMEOUT = (5.0, 30.0)


@attrs.frozen
class SiteSageSettings:
    """A checked config; the token is kept out of ``repr``."""

    base_url: str
    token: str = attrs.field(repr=False)
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    page_size: int = 1000
    retries: int = 4
    backoff_factor: float = 0.5
    retry_after_max: float = 30.0
    #: No retry of a request starts (nor is slept towards) past this many seconds after its first failure.
    retry_max_seconds: float = 60.0
    max_pages: int = 10_000
    pool_maxsize: int = 10


def _fail(message: str) -> ConnectorError:
    return ConnectorError(f"sitesage connector config: {message}")


def _positive(value: Any, key: str, *, integer: bool = False, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(f"{key!r} must be a number, not {value!r}")
    if integer and not float(value).is_integer():
        raise _fail(f"{key!r} must be a whole number, not {value!r}")
    if value < 0 or (value == 0 and not zero):
        raise _fail(f"{key!r} must be {'at least 0' if zero else 'above 0'} (got {value!r})")
    return float(value)


def _timeout(value: Any) -> tuple[float, float]:
    """Seconds (read; connect keeps its default), ``[connect, read]`` or ``{connect, read}``."""
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, Mapping):
        unknown = set(value) - {"connect", "read"}
        if unknown:
            raise _fail(f"'timeout' takes 'connect' and 'read', not {sorted(unknown)}")
        return (
            _positive(value.get("connect", DEFAULT_TIMEOUT[0]), "timeout.connect"),
            _positive(value.get("read", DEFAULT_TIMEOUT[1]), "timeout.read"),
        )
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise _fail("'timeout' as a list is [connect, read]")
        return _positive(value[0], "timeout[0]"), _positive(value[1], "timeout[1]")
    return DEFAULT_TIMEOUT[0], _positive(value, "timeout")


def parse_settings(config: Mapping[str, Any]) -> SiteSageSettings:
    """Check ``config``; errors name the key and the cause, never the token's value."""
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise _fail(f"unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(KNOWN_KEYS))}")
    base_url = config.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
        raise _fail(
            "'base_url' must be an http(s) URL such as https://api.sitesage.example "
            f"(got {base_url!r})"
        )
    if "?" in base_url or "#" in base_url:
        raise _fail("'base_url' must not carry a query or fragment")
    token = config.get("token")
    if not isinstance(token, str) or not token.strip():
        raise _fail("'token' is required: give it from the environment, token = \"${SITESAGE_TOKEN}\"")
    if any(ch in token for ch in "\r\n") or not token.isprintable():
        raise _fail("'token' contains control characters")
    return SiteSageSettings(
        base_url=base_url.rstrip("/"),
        token=token.strip(),
        timeout=_timeout(config.get("timeout")),
        page_size=int(_positive(config.get("page_size", 1000), "page_size", integer=True)),
        retries=int(_positive(config.get("retries", 4), "retries", integer=True, zero=True)),
        backoff_factor=_positive(config.get("backoff_factor", 0.5), "backoff_factor", zero=True),
        retry_after_max=_positive(config.get("retry_after_max", 30.0), "retry_after_max", zero=True),
        retry_max_seconds=_positive(config.get("retry_max_seconds", 60.0), "retry_max_seconds"),
        max_pages=int(_positive(config.get("max_pages", 10_000), "max_pages", integer=True)),
        pool_maxsize=int(_positive(config.get("pool_maxsize", 10), "pool_maxsize", integer=True)),
    )

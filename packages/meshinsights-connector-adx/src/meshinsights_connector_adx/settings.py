"""Parse and check an ``adx`` connector config (keys as in the run config's [connection])."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from meshinsights.errors import ConnectorError

AUTH_MODES = ("app_key", "managed_identity", "az_cli", "default", "none")

#: Kusto refuses a server timeout above one hour for queries.
MAX_SERVER_TIMEOUT = timedelta(hours=1)

KNOWN_KEYS = frozenset(
    {
        "cluster", "database", "auth", "tenant_id", "client_id", "client_secret", "credential",
        "server_timeout", "retry_attempts", "retry_initial_wait", "retry_max_wait",
        "retry_max_seconds",
    }
)


@attrs.frozen
class ADXSettings:
    """A checked config; secrets are kept out of ``repr``."""

    cluster: str
    database: str
    auth: str = "default"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)
    credential: Any = attrs.field(default=None, repr=False)
    server_timeout: timedelta | None = None
    retry_attempts: int = 5
    retry_initial_wait: float = 0.5
    retry_max_wait: float = 10.0
    retry_max_seconds: float = 60.0


def _fail(message: str) -> ConnectorError:
    return ConnectorError(f"adx connector config: {message}")


def _text(config: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = config.get(key)
    if value in (None, ""):
        if required:
            raise _fail(f"{key!r} is required")
        return None
    if not isinstance(value, str):
        raise _fail(f"{key!r} must be a string, not {type(value).__name__}")
    return value


def _seconds(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(f"{key!r} must be a number of seconds, not {value!r}")
    if value < 0:
        raise _fail(f"{key!r} must not be negative (got {value!r})")
    return float(value)


def _server_timeout(value: Any) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        timeout = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        timeout = timedelta(seconds=float(value))
    else:
        raise _fail(f"'server_timeout' must be seconds or a timedelta, not {type(value).__name__}")
    if not timedelta(0) < timeout <= MAX_SERVER_TIMEOUT:
        raise _fail(f"'server_timeout' must be above 0 and at most 1 hour (got {timeout})")
    return timeout


def parse_settings(config: Mapping[str, Any]) -> ADXSettings:
    """Check ``config``; errors name the key and the cause, never a secret's value."""
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise _fail(f"unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(KNOWN_KEYS))}")
    cluster = _text(config, "cluster", required=True)
    database = _text(config, "database", required=True)
    assert cluster is not None and database is not None
    if not cluster.startswith(("https://", "http://")):
        raise _fail(
            "'cluster' must be a URL such as https://mycluster.westeurope.kusto.windows.net "
            f"(got {cluster!r})"
        )
    auth = _text(config, "auth") or "default"
    if auth not in AUTH_MODES:
        raise _fail(f"'auth' must be one of {', '.join(AUTH_MODES)} (got {auth!r})")
    settings = ADXSettings(
        cluster=cluster.rstrip("/"),
        database=database,
        auth=auth,
        tenant_id=_text(config, "tenant_id"),
        client_id=_text(config, "client_id"),
        client_secret=_text(config, "client_secret"),
        credential=config.get("credential"),
        server_timeout=_server_timeout(config.get("server_timeout")),
        retry_attempts=int(_seconds(config, "retry_attempts", 5)),
        retry_initial_wait=_seconds(config, "retry_initial_wait", 0.5),
        retry_max_wait=_seconds(config, "retry_max_wait", 10.0),
        retry_max_seconds=_seconds(config, "retry_max_seconds", 60.0),
    )
    _check_auth(settings)
    return settings


def _check_auth(settings: ADXSettings) -> None:
    if settings.retry_attempts < 1:
        raise _fail("'retry_attempts' must be at least 1")
    if settings.auth == "app_key":
        missing = [
            key for key in ("tenant_id", "client_id", "client_secret")
            if getattr(settings, key) is None
        ]
        if missing:
            raise _fail(
                f"auth 'app_key' needs {', '.join(map(repr, missing))} "
                "(give secrets as ${ENV_VAR} in the run config)"
            )
    if settings.auth == "none" and not settings.cluster.startswith("http://"):
        raise _fail(
            "auth 'none' is only for a local endpoint over http:// (such as the Kusto emulator); "
            f"cluster {settings.cluster!r} needs an Azure AD auth mode"
        )
    if settings.auth != "default" and settings.credential is not None:
        raise _fail("'credential' (a TokenCredential) is only used with auth 'default'")

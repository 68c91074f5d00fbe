"""The ``mysql`` connector's config, checked up front, with the password kept out of sight."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from meshinsights.errors import ConfigError
from meshinsights.redaction import config_hash

#: Keys that decide which server session a connection is; the pool is keyed on them.
CONNECTION_KEYS = ("host", "port", "user", "password", "database",
                   "connect_timeout", "read_timeout")
#: Tuning keys with defaults; they change behaviour, not the session.
TUNING_KEYS = ("retries", "retry_max_wait", "retry_max_seconds", "pool_size")


def _positive(name: str) -> Any:
    def check(_: Any, __: Any, value: float) -> None:
        if value <= 0:
            raise ConfigError(f"mysql connector: `{name}` must be > 0, got {value!r}")

    return check


@attrs.frozen
class MySQLSettings:
    """Connection settings; ``repr`` shows everything but the password."""

    user: str
    password: str = attrs.field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 3306
    database: str | None = None
    connect_timeout: float = attrs.field(default=10.0, validator=_positive("connect_timeout"))
    read_timeout: float = attrs.field(default=300.0, validator=_positive("read_timeout"))
    retries: int = attrs.field(default=5, validator=_positive("retries"))
    retry_max_wait: float = attrs.field(default=10.0, validator=_positive("retry_max_wait"))
    #: No retry starts once a statement has spent this long (first try included).
    retry_max_seconds: float = attrs.field(default=60.0, validator=_positive("retry_max_seconds"))
    pool_size: int = attrs.field(default=8, validator=_positive("pool_size"))

    @property
    def address(self) -> str:
        """``user@host:port/database``: how logs and errors name the server (no password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.database or ''}"

    @property
    def pool_key(self) -> str:
        """A non-reversible hash of the session settings, password included."""
        return config_hash({key: getattr(self, key) for key in CONNECTION_KEYS})

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``pymysql.connect`` (holds the password: never log it)."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "write_timeout": self.read_timeout,
        }


def parse_settings(config: Mapping[str, Any]) -> MySQLSettings:
    unknown = sorted(set(config) - set(CONNECTION_KEYS) - set(TUNING_KEYS))
    if unknown:
        raise ConfigError(
            f"mysql connector: unknown config key(s) {', '.join(unknown)} "
            f"(known: {', '.join((*CONNECTION_KEYS, *TUNING_KEYS))})"
        )
    user = config.get("user")
    if not isinstance(user, str) or not user:
        raise ConfigError("mysql connector: `user` is required")
    values: dict[str, Any] = {"user": user}
    for key, kind in (("host", str), ("password", str), ("database", str)):
        value = config.get(key)
        if value is None:
            continue
        if not isinstance(value, kind):
            raise ConfigError(f"mysql connector: `{key}` must be a string")
        values[key] = value
    for key, number in (("port", int), ("connect_timeout", float), ("read_timeout", float),
                        ("retries", int), ("retry_max_wait", float),
                        ("retry_max_seconds", float), ("pool_size", int)):
        value = config.get(key)
        if value is None:
            continue
        try:
            values[key] = number(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"mysql connector: `{key}` must be a number, got {value!r}"
            ) from None
    return MySQLSettings(**values)

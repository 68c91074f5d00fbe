"""Which pymysql errors are worth a retry, and how an error is shown (never with the password)."""

from __future__ import annotations

import pymysql

from meshinsights.errors import ConnectorError
from meshinsights_connector_mysql.settings import MySQLSettings

#: Can't connect (2003), server gone away (2006), lost connection (2013),
#: lock wait timeout (1205), deadlock (1213): the same statement may well work next time.
TRANSIENT_CODES = frozenset({2003, 2006, 2013, 1205, 1213})
#: Errors that leave the connection unusable: drop it instead of pooling it again.
CONNECTION_LOST_CODES = frozenset({2003, 2006, 2013, 2014, 2055})


def error_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def is_read_timeout(exc: BaseException) -> bool:
    """A query that ran past ``read_timeout``: retrying would only wait that long again."""
    return error_code(exc) == 2013 and "timed out" in str(exc)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError):
        return True  # the connection was closed under us: a fresh one will do
    if not isinstance(exc, pymysql.err.MySQLError) or is_read_timeout(exc):
        return False
    return error_code(exc) in TRANSIENT_CODES


def connection_is_broken(exc: BaseException) -> bool:
    return isinstance(exc, pymysql.err.InterfaceError) or (
        isinstance(exc, pymysql.err.OperationalError)
        and error_code(exc) in CONNECTION_LOST_CODES
    )


def scrub(text: str, settings: MySQLSettings) -> str:
    """Belt and braces: no text we raise or log may contain the password."""
    if len(settings.password) >= 3:
        return text.replace(settings.password, "***")
    return text


def describe(exc: BaseException) -> str:
    code = error_code(exc)
    message = exc.args[1] if code is not None and len(exc.args) > 1 else str(exc)
    name = type(exc).__name__
    return f"{name} {code}: {message}" if code is not None else f"{name}: {message}"


def connector_error(
    exc: BaseException, settings: MySQLSettings, what: str, attempts: int = 1
) -> ConnectorError:
    """A ConnectorError naming the server, the failing step and the cause."""
    hint = ""
    if is_read_timeout(exc):
        hint = f" (ran longer than read_timeout = {settings.read_timeout:g} s)"
    elif error_code(exc) == 1045:
        hint = " (check `user` and the password)"
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    text = f"mysql connector ({settings.address}): {what} failed{tried}: {describe(exc)}{hint}"
    return ConnectorError(scrub(text, settings))

"""MySQLConnectionManager: pymysql connections shared by every connector with the same session.

pymysql connections are not thread safe, so a connection is checked out by
one thread for one statement and returned afterwards; threads never share one
at the same time. Managers are shared by identical session settings (host,
port, user, password, database, timeouts), keyed by a non-reversible hash.
A dropped connection (server restarted, network cut, idle timeout) is thrown
away together with the other idle ones, and the statement is retried on a
fresh connection, as are lock-wait timeouts and deadlocks: jittered
exponential backoff, capped, a bounded number of attempts, each retry and
give-up counted in :mod:`meshinsights.retries`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import pymysql
import pymysql.cursors
from pymysql.constants import FIELD_TYPE
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from meshinsights import retries
from meshinsights_connector_mysql.failures import (
    connection_is_broken,
    connector_error,
    describe,
    error_code,
    is_read_timeout,
    is_transient,
    scrub,
)
from meshinsights_connector_mysql.frames import PARSED_HERE
from meshinsights_connector_mysql.settings import MySQLSettings

logger = logging.getLogger(__name__)

CONNECTOR = "mysql"

T = TypeVar("T")
Description = tuple[tuple[Any, ...], ...]

#: pymysql's converters, with DECIMAL read as float (analytics want numbers, not Decimal
#: objects) and TIMESTAMP and DATETIME left as text, parsed by column in ``frames.to_frame``.
CONVERSIONS: dict[int, Any] = {
    **{k: v for k, v in pymysql.converters.conversions.items() if k not in PARSED_HERE},
    FIELD_TYPE.DECIMAL: float,
    FIELD_TYPE.NEWDECIMAL: float,
}


class MySQLConnectionManager:
    """A pool of pymysql connections to one server session; see the module docstring."""

    _managers: ClassVar[dict[str, MySQLConnectionManager]] = {}
    _managers_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: MySQLSettings) -> None:
        self.settings = settings
        self._idle: list[pymysql.connections.Connection[Any]] = []
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False
        #: Connections opened so far (a reconnect shows up here).
        self.opened = 0
        #: What one statement may spend on retries: attempts, and time before a new try.
        self.retry_bounds = retries.RetryBounds(
            max_attempts=settings.retries,
            max_seconds=settings.retry_max_seconds,
            max_wait_seconds=(settings.retries - 1) * settings.retry_max_wait,
        )

    # -- sharing ---------------------------------------------------------------------------

    @classmethod
    def acquire(cls, settings: MySQLSettings) -> MySQLConnectionManager:
        """The manager for these session settings, shared with every other user of them."""
        with cls._managers_lock:
            manager = cls._managers.get(settings.pool_key)
            if manager is None:
                manager = cls._managers[settings.pool_key] = cls(settings)
            manager._users += 1
            return manager

    def release(self) -> None:
        """One user fewer; the last one out closes the connections."""
        with self._managers_lock:
            self._users -= 1
            if self._users > 0:
                return
            if self._managers.get(self.settings.pool_key) is self:
                del self._managers[self.settings.pool_key]
        self.close()

    @classmethod
    def active(cls) -> list[MySQLConnectionManager]:
        with cls._managers_lock:
            return list(cls._managers.values())

    # -- connections -----------------------------------------------------------------------

    def _open(self) -> pymysql.connections.Connection[Any]:
        settings = self.settings
        connection = pymysql.connections.Connection(
            **{**settings.connect_kwargs(),
               # The handshake is part of connecting: bound it by connect_timeout, since a
               # server that accepts TCP but never answers would otherwise hold us for
               # read_timeout.
               "read_timeout": settings.connect_timeout,
               "write_timeout": settings.connect_timeout},
            charset="utf8mb4",
            autocommit=True,
            conv=CONVERSIONS,
            init_command="SET time_zone = '+00:00'",
            cursorclass=pymysql.cursors.Cursor,
            defer_connect=True,
        )
        try:
            connection.connect()
        except pymysql.err.OperationalError as exc:
            if not is_read_timeout(exc):
                raise
            raise pymysql.err.OperationalError(
                2003,
                f"Can't connect to MySQL server on {settings.host!r} (no handshake within "
                f"connect_timeout = {settings.connect_timeout:g} s)",
            ) from None
        # pymysql applies these to the socket before its next read or write.
        connection._read_timeout = settings.read_timeout
        connection._write_timeout = settings.read_timeout
        with self._lock:
            self.opened += 1
        logger.debug("mysql %s: connection opened", settings.address)
        return connection

    def _checkout(self) -> pymysql.connections.Connection[Any]:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _checkin(self, connection: pymysql.connections.Connection[Any]) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.settings.pool_size:
                self._idle.append(connection)
                return
        _quietly_close(connection)

    def _after_error(self, connection: pymysql.connections.Connection[Any],
                     exc: BaseException) -> None:
        """Pool the connection again only when the error left it usable."""
        if connection_is_broken(exc):
            _quietly_close(connection)
            self.flush()  # the others most likely died with it (server restart)
        elif isinstance(exc, pymysql.err.MySQLError):
            self._checkin(connection)
        else:  # interrupted half-way: the protocol state is unknown
            _quietly_close(connection)

    @contextmanager
    def connection(self) -> Iterator[pymysql.connections.Connection[Any]]:
        """A connection for this thread alone, returned to the pool afterwards."""
        connection = self._checkout()
        try:
            yield connection
        except BaseException as exc:
            self._after_error(connection, exc)
            raise
        self._checkin(connection)

    def flush(self) -> None:
        """Close the idle connections (they are reopened on demand)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            _quietly_close(connection)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.flush()

    @property
    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)

    # -- statements ------------------------------------------------------------------------

    def _retrying(self) -> Retrying:
        settings = self.settings
        retries.record_call(CONNECTOR, self.retry_bounds)
        return Retrying(
            stop=(stop_after_attempt(settings.retries)
                  | stop_before_delay(settings.retry_max_seconds)),
            wait=wait_random_exponential(multiplier=0.1, max=settings.retry_max_wait),
            retry=retry_if_exception(is_transient),
            before_sleep=self._log_retry,
            retry_error_callback=retries.give_up_callback(CONNECTOR),
            reraise=True,
        )

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        code = error_code(exc) if exc else None
        retries.record_retry(
            CONNECTOR, attempt=state.attempt_number, wait_seconds=wait,
            reason=str(code) if code else type(exc).__name__,  # 2003, 1205, InterfaceError
        )
        logger.warning(
            "mysql %s: transient error %s, retry %d of %d in %.2f s",
            self.settings.address,
            scrub(describe(exc), self.settings) if exc else "?",
            state.attempt_number,
            self.settings.retries - 1,
            wait,
        )

    def run(self, work: Callable[[pymysql.connections.Connection[Any]], T], what: str) -> T:
        """``work(connection)`` with retries of transient errors; errors become ConnectorError."""
        retrying = self._retrying()
        try:
            for attempt in retrying:
                with attempt, self.connection() as connection:
                    return work(connection)
        except pymysql.err.MySQLError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise connector_error(exc, self.settings, what, attempts) from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def fetch_all(self, query: str, args: Any) -> tuple[Description, list[tuple[Any, ...]]]:
        """The fast path: a buffered tuple cursor, every row, and the column description."""

        def work(connection: pymysql.connections.Connection[Any]) -> tuple[Description, Any]:
            with connection.cursor() as cursor:
                cursor.execute(query, args)
                return cursor.description or (), cursor.fetchall()

        description, rows = self.run(work, "query")
        return description, list(rows)

    def stream(
        self, query: str, args: Any, chunksize: int
    ) -> Iterator[tuple[Description, list[tuple[Any, ...]]]]:
        """Rows in chunks from a server-side cursor: memory stays bounded by ``chunksize``.

        Transient errors are retried until the first chunk arrives; after that
        a failure is raised (part of the result has been handed out already).
        """

        def start(
            connection: pymysql.connections.Connection[Any],
        ) -> tuple[pymysql.cursors.SSCursor, list[tuple[Any, ...]]]:
            cursor = connection.cursor(pymysql.cursors.SSCursor)
            cursor.execute(query, args)
            return cursor, list(cursor.fetchmany(chunksize))

        retrying = self._retrying()
        try:
            for attempt in retrying:
                with attempt:
                    connection = self._checkout()
                    try:
                        cursor, rows = start(connection)
                    except BaseException as exc:
                        self._after_error(connection, exc)
                        raise
        except pymysql.err.MySQLError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise connector_error(exc, self.settings, "query", attempts) from None
        description = cursor.description or ()
        try:
            while rows:
                yield description, rows
                rows = list(cursor.fetchmany(chunksize))
            cursor.close()
        except pymysql.err.MySQLError as exc:
            self._after_error(connection, exc)
            raise connector_error(exc, self.settings, "streaming query") from None
        except BaseException:
            # GeneratorExit included: unread rows are still on the wire, so the connection goes.
            _abandon(connection, cursor)
            raise
        self._checkin(connection)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.settings.address}, idle={self.idle_count}, "
                f"users={self._users})")


def _abandon(
    connection: pymysql.connections.Connection[Any], cursor: pymysql.cursors.SSCursor
) -> None:
    """Drop a connection in the middle of an unbuffered result without reading the rest.

    pymysql would otherwise read every remaining row when the cursor and the
    result are garbage collected, from a socket that is already closed.
    """
    result = getattr(connection, "_result", None)
    if result is not None:
        result.unbuffered_active = False
    cursor.connection = None
    _quietly_close(connection)


def _quietly_close(connection: pymysql.connections.Connection[Any]) -> None:
    try:
        connection.close()
    except Exception as exc:  # noqa: BLE001 - the connection is being thrown away anyway
        logger.debug("closing a broken connection: %s", error_code(exc) or type(exc).__name__)

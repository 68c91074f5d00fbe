"""urllib3's ``Retry`` that counts each retry and give-up in :mod:`meshinsights.retries`.

urllib3 retries inside ``requests`` where the connector cannot see it: every
failed attempt goes through :meth:`Retry.increment`, which returns the next
policy or raises ``MaxRetryError`` when the retries are used up. The copies
``increment`` makes go through :meth:`Retry.new`, which builds ``type(self)``,
so they stay counted; the time the call first failed is carried along.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from meshinsights import retries

if TYPE_CHECKING:
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

CONNECTOR = "sitesage"


class CountedRetry(Retry):
    """A ``Retry`` whose retries show in the run's manifest; behaves as urllib3's otherwise."""

    connector: str = CONNECTOR
    #: No retry starts, nor is slept towards, past this many seconds after the first failure.
    max_seconds: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: When the call's first attempt failed (monotonic); None until then.
        self._first_failure: float | None = None
        #: The backoff this copy sleeps, drawn once so the recorded wait is the one slept.
        self._backoff: float | None = None

    def new(self, **kw: Any) -> CountedRetry:
        retry = super().new(**kw)
        retry._first_failure = self._first_failure
        retry.max_seconds = self.max_seconds
        return retry

    def get_backoff_time(self) -> float:
        return self._backoff if self._backoff is not None else super().get_backoff_time()

    def _planned_wait(self, response: BaseHTTPResponse | None) -> float:
        """What :meth:`Retry.sleep` will sleep: Retry-After when given, else the backoff."""
        if self.respect_retry_after_header and response:
            try:
                retry_after = self.get_retry_after(response)
            except Exception:  # noqa: BLE001 - sleep() would fail the same way; nothing waited
                retry_after = None
            if retry_after:
                return float(retry_after)
        return self.get_backoff_time()

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> CountedRetry:
        now = time.monotonic()
        first_failure = self._first_failure if self._first_failure is not None else now
        attempt = len(self.history) + 1  # the attempt that just failed
        try:
            retry = super().increment(method, url, response, error, _pool, _stacktrace)
        except MaxRetryError:
            retries.record_gave_up(self.connector, attempts=attempt,
                                   elapsed_seconds=now - first_failure)
            raise
        retry._first_failure = first_failure
        retry._backoff = retry.get_backoff_time()  # drawn once: the wait slept is the one counted
        wait = retry._planned_wait(response)
        if self.max_seconds is not None and now - first_failure + wait > self.max_seconds:
            # Out of time: give up as urllib3 does when out of attempts (a status answer is
            # then returned as it is, an error raised).
            retries.record_gave_up(self.connector, attempts=attempt,
                                   elapsed_seconds=now - first_failure)
            cause = error or ResponseError(f"retry time cap of {self.max_seconds:g} s reached")
            raise MaxRetryError(_pool, url or "", cause) from cause  # type: ignore[arg-type]
        retries.record_retry(self.connector, attempt=attempt, wait_seconds=wait,
                             reason=_reason(response, error))
        return retry


def _reason(response: BaseHTTPResponse | None, error: Exception | None) -> str:
    """``HTTP 503`` or the error's class name (``ReadTimeoutError``); never a URL."""
    if error is not None:
        return type(error).__name__
    status = getattr(response, "status", None)
    return f"HTTP {status}" if status else "unknown"

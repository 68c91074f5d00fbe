"""The connector's error: Kusto's code and message, never parameter values or credentials."""

from __future__ import annotations

from meshinsights.errors import ConnectorError


class ADXQueryError(ConnectorError):
    """A query or command failed for good (permanent error, or retries exhausted).

    ``code`` is Kusto's error code (``General_BadRequest``, ``Throttled``,
    ``NetworkError`` ...), ``http_status`` the HTTP status when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http_status: int | None = None,
        permanent: bool = True,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.permanent = permanent
        self.attempts = attempts

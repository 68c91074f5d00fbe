"""The connector's error: names the endpoint and the cause, never the token."""

from __future__ import annotations

from meshinsights.errors import ConnectorError


class SiteSageError(ConnectorError):
    """A SiteSage request failed or answered something outside the contract."""

    def __init__(self, message: str, *, endpoint: str, status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status

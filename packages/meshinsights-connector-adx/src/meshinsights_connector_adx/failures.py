"""Classify azure-kusto-data errors: transient (retry) or permanent (raise at once).

Transient: throttling (429), network errors, a closed pooled client, 5xx
answers not marked ``@permanent``, in-answer errors marked not permanent.
Permanent: other 4xx (semantic and syntax errors, auth), ``@permanent`` errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

MAX_MESSAGE = 600


@attrs.frozen
class Failure:
    """What a Kusto error says, reduced to what may be shown."""

    code: str
    message: str
    http_status: int | None
    permanent: bool | None
    transient: bool
    retry_after: float | None = None


def _response(exc: Any) -> Any:
    """The HTTP response an error carries (KustoThrottlingError keeps it in ``args``)."""
    response = getattr(exc, "http_response", None)
    if response is None:
        response = next((a for a in getattr(exc, "args", ()) if hasattr(a, "status_code")), None)
    return response


def _status(exc: Any) -> int | None:
    response = _response(exc)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(status) if isinstance(status, int) else None


def _retry_after(exc: Any) -> float | None:
    response = _response(exc)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _is_transient(status: int | None, permanent: bool | None) -> bool:
    if status is not None:
        if status == 429 or status == 408:
            return True
        if status >= 500:
            return permanent is not True
        return False
    return permanent is False


def describe(exc: BaseException) -> Failure:
    """The code, message, status and retry class of an exception from the client."""
    from azure.kusto.data.exceptions import (
        KustoApiError,
        KustoAuthenticationError,
        KustoClosedError,
        KustoMultiApiError,
        KustoNetworkError,
        KustoServiceError,
        KustoThrottlingError,
    )

    status = _status(exc)
    if isinstance(exc, KustoThrottlingError):
        return Failure("TooManyRequests", "the request was throttled by the cluster", 429, False,
                       True, _retry_after(exc))
    if isinstance(exc, KustoNetworkError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "unknown"
        return Failure("NetworkError", f"the cluster could not be reached ({cause})", None, False,
                       True)
    if isinstance(exc, KustoClosedError):
        return Failure("ClientClosed", "the pooled client was closed", None, False, True)
    if isinstance(exc, KustoAuthenticationError):
        inner = type(exc.exception).__name__
        return Failure("AuthenticationFailed",
                       f"{exc.authentication_method} could not get a token ({inner})", None, True,
                       False)
    if isinstance(exc, KustoMultiApiError):
        errors = exc.get_api_errors()
        permanent = None if not errors else any(e.permanent is not False for e in errors)
        code = errors[0].code if errors and errors[0].code else "PartialQueryFailure"
        message = "; ".join(str(e.description or e.message) for e in errors) or exc.message_text
        return Failure(code, message, status, permanent, _is_transient(status, permanent),
                       _retry_after(exc))
    if isinstance(exc, KustoApiError):
        api = exc.get_api_error()
        message = str(api.description or api.message or exc.message_text)
        return Failure(api.code or "ServiceError", message, status, api.permanent,
                       _is_transient(status, api.permanent), _retry_after(exc))
    if isinstance(exc, KustoServiceError):
        code = f"HTTP{status}" if status is not None else "ServiceError"
        return Failure(code, str(exc.message_text), status, None, _is_transient(status, None),
                       _retry_after(exc))
    return Failure(type(exc).__name__, "unexpected client error", status, True, False)


def scrub(text: str, hidden: Iterable[str]) -> str:
    """``text`` with every hidden value (parameter values, secrets) masked, and bounded."""
    for value in sorted({v for v in hidden if v and len(v) >= 2}, key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "***")
        else:
            text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(value)}(?![A-Za-z0-9_])", "***", text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " ..."

"""Retry transient Kusto failures with jittered exponential backoff, capped in attempts and time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import tenacity

from meshinsights import retries
from meshinsights_connector_adx.failures import Failure, describe, scrub
from meshinsights_connector_adx.settings import ADXSettings

logger = logging.getLogger(__name__)

CONNECTOR = "adx"

T = TypeVar("T")


def _is_transient(exc: BaseException) -> bool:
    return describe(exc).transient


def _wait(settings: ADXSettings) -> Callable[[tenacity.RetryCallState], float]:
    backoff = tenacity.wait_exponential(
        multiplier=settings.retry_initial_wait, max=settings.retry_max_wait
    ) + tenacity.wait_random(0, settings.retry_initial_wait)

    def wait(state: tenacity.RetryCallState) -> float:
        seconds = min(backoff(state), settings.retry_max_wait)
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        retry_after = describe(exc).retry_after if exc is not None else None
        if retry_after is not None:  # the server's hint, never past our cap
            seconds = max(seconds, min(retry_after, settings.retry_max_wait))
        return float(seconds)

    return wait


def _reason(failure: Failure | None) -> str:
    """A short code for the retry counters: the Kusto error code and the HTTP status."""
    if failure is None:
        return "error"
    return f"HTTP {failure.http_status} {failure.code}" if failure.http_status else failure.code


def retry_bounds(settings: ADXSettings) -> retries.RetryBounds:
    """What one query may spend on retries: attempts, and time (``stop_before_delay``)."""
    return retries.RetryBounds(
        max_attempts=settings.retry_attempts, max_seconds=settings.retry_max_seconds,
        max_wait_seconds=min(settings.retry_max_seconds,
                             (settings.retry_attempts - 1) * settings.retry_max_wait),
    )


def call_with_retries(
    settings: ADXSettings, what: str, attempt: Callable[[], T], hidden: Iterable[str] = ()
) -> T:
    """Run ``attempt`` until it succeeds, fails permanently, or the caps are reached.

    The last exception is re-raised unchanged; the caller turns it into an
    :class:`~meshinsights_connector_adx.errors.ADXQueryError`. Each retry and
    each give-up is counted in :mod:`meshinsights.retries`, by the error
    code, with the ``hidden`` values (parameters, secrets) masked.
    """
    hidden = list(hidden)
    retries.record_call(CONNECTOR, retry_bounds(settings))

    def log_retry(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        failure = describe(exc) if exc is not None else None
        wait = state.next_action.sleep if state.next_action else 0.0
        retries.record_retry(CONNECTOR, attempt=state.attempt_number, wait_seconds=wait,
                             reason=scrub(_reason(failure), hidden))
        logger.warning(
            "adx %s on %s/%s: transient %s (HTTP %s), attempt %d of %d; retrying in %.2f s",
            what, settings.cluster, settings.database,
            failure.code if failure else "error",
            failure.http_status if failure else None,
            state.attempt_number, settings.retry_attempts, wait,
        )

    retrying = tenacity.Retrying(
        stop=(
            tenacity.stop_after_attempt(settings.retry_attempts)
            | tenacity.stop_before_delay(settings.retry_max_seconds)
        ),
        wait=_wait(settings),
        retry=tenacity.retry_if_exception(_is_transient),
        before_sleep=log_retry,
        retry_error_callback=retries.give_up_callback(CONNECTOR),
        reraise=True,
    )
    return retrying(attempt)


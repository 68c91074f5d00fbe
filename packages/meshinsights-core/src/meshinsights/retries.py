"""Process-wide retry counters, so a run can say how hard its connectors had to try.

Connectors retry transient failures inside their own client (tenacity,
urllib3); this module is where they report it. A connector calls
:func:`record_call` once per call with the bounds that call retries within,
:func:`record_retry` before each backoff sleep, and :func:`record_gave_up`
when a transient failure outlasted the bounds. :func:`snapshot` returns
immutable per-connector totals; ``later.since(earlier)`` is what happened in
between, so a run reports its own calls, retries and bounds even when the
process runs several with different settings.

Stage 1 fetches run in the main process's I/O threads whatever the executor,
so these counters see every fetch of a run. Reasons are short codes
(``"HTTP 429"``, ``"2013"``, ``"TooManyRequests"``): never query text,
parameter values, URLs or anything else that may hold a secret; a reason that
does not look like a code is counted as ``"other"``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: What a reason may look like: a status, an error number or name; no URL, no ``key=value``.
_REASON = re.compile(r"[A-Za-z0-9][A-Za-z0-9_. -]{0,39}")
OTHER_REASON = "other"

_EMPTY: Mapping[Any, int] = MappingProxyType({})


def reason_code(reason: str) -> str:
    """``reason`` if it looks like a short code, else ``"other"``."""
    reason = reason.strip()
    return reason if _REASON.fullmatch(reason) else OTHER_REASON


@dataclass(frozen=True)
class RetryBounds:
    """What one call may spend on retries.

    ``max_attempts`` counts the first try; ``max_seconds`` caps one call's
    retrying in time when the connector enforces such a cap (None when it
    does not); ``max_wait_seconds`` bounds the backoff sleeping of one call.
    """

    max_attempts: int
    max_seconds: float | None = None
    max_wait_seconds: float | None = None

    def loosest(self, other: RetryBounds) -> RetryBounds:
        """The bound both satisfy (the larger of each; None, no cap, wins)."""

        def larger(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else max(a, b)

        return RetryBounds(
            max(self.max_attempts, other.max_attempts),
            larger(self.max_seconds, other.max_seconds),
            larger(self.max_wait_seconds, other.max_wait_seconds),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"max_attempts": self.max_attempts, "max_seconds": self.max_seconds,
                "max_wait_seconds": self.max_wait_seconds}


def _minus(later: Mapping[Any, int], earlier: Mapping[Any, int]) -> Mapping[Any, int]:
    changed = {k: n - earlier.get(k, 0) for k, n in later.items() if n != earlier.get(k, 0)}
    return MappingProxyType(changed) if changed else _EMPTY


@dataclass(frozen=True)
class ConnectorRetries:
    """One connector's retries (all of the process's, or a window's after :meth:`minus`).

    ``reached[k]`` is the number of calls that made at least ``k`` attempts
    (``k >= 2``): each retry before attempt ``k`` adds one to it, so the
    retries are its sum and the calls that needed a retry are ``reached[2]``.
    """

    connector: str
    wait_seconds: float = 0.0
    reached: Mapping[int, int] = field(default_factory=lambda: _EMPTY)
    gave_up_after: Mapping[int, int] = field(default_factory=lambda: _EMPTY)
    gave_up_seconds: float = 0.0
    reasons: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    #: Calls by the bounds they ran under.
    calls_by_bounds: Mapping[RetryBounds, int] = field(default_factory=lambda: _EMPTY)

    @property
    def calls(self) -> int:
        return sum(self.calls_by_bounds.values())

    @property
    def bounds(self) -> RetryBounds | None:
        """The bounds every call kept to (the loosest of those declared); None without calls."""
        declared = [b for b, n in self.calls_by_bounds.items() if n]
        if not declared:
            return None
        loosest = declared[0]
        for bounds in declared[1:]:
            loosest = loosest.loosest(bounds)
        return loosest

    @property
    def retries(self) -> int:
        return sum(self.reached.values())

    @property
    def calls_retried(self) -> int:
        return self.reached.get(2, 0)

    @property
    def gave_up(self) -> int:
        return sum(self.gave_up_after.values())

    @property
    def longest_attempts(self) -> int:
        """The most attempts one call made (0 when no call was retried or gave up)."""
        counts = [k for k, n in self.reached.items() if n] + [
            k for k, n in self.gave_up_after.items() if n]
        return max(counts, default=0)

    @property
    def calls_by_attempts(self) -> dict[int, int]:
        """Retried calls by the number of attempts they made."""
        return {k: n - self.reached.get(k + 1, 0) for k, n in sorted(self.reached.items())
                if n - self.reached.get(k + 1, 0)}

    @property
    def active(self) -> bool:
        """Did any call of this connector retry or give up?"""
        return bool(self.reached or self.gave_up_after)

    def minus(self, earlier: ConnectorRetries | None) -> ConnectorRetries:
        """What happened after ``earlier``."""
        if earlier is None:
            return self
        return ConnectorRetries(
            connector=self.connector,
            wait_seconds=max(0.0, self.wait_seconds - earlier.wait_seconds),
            reached=_minus(self.reached, earlier.reached),
            gave_up_after=_minus(self.gave_up_after, earlier.gave_up_after),
            gave_up_seconds=max(0.0, self.gave_up_seconds - earlier.gave_up_seconds),
            reasons=_minus(self.reasons, earlier.reasons),
            calls_by_bounds=_minus(self.calls_by_bounds, earlier.calls_by_bounds),
        )

    def to_dict(self) -> dict[str, Any]:
        """The manifest's form (JSON keys are strings)."""
        return {
            "calls": self.calls,
            "retries": self.retries,
            "calls_retried": self.calls_retried,
            "wait_seconds": round(self.wait_seconds, 3),
            "gave_up": self.gave_up,
            "gave_up_seconds": round(self.gave_up_seconds, 3),
            "longest_attempts": self.longest_attempts,
            "calls_by_attempts": {str(k): n for k, n in self.calls_by_attempts.items()},
            "reasons": dict(sorted(self.reasons.items())),
            "bounds": self.bounds.to_dict() if self.bounds is not None else None,
        }


@dataclass(frozen=True)
class RetrySnapshot(Mapping[str, ConnectorRetries]):
    """Every connector's retries at one moment, by connector name."""

    connectors: Mapping[str, ConnectorRetries] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ConnectorRetries:
        return self.connectors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.connectors))

    def __len__(self) -> int:
        return len(self.connectors)

    def since(self, earlier: RetrySnapshot) -> RetrySnapshot:
        """What happened between ``earlier`` and this snapshot (every connector known now)."""
        return RetrySnapshot(MappingProxyType(
            {name: stats.minus(earlier.connectors.get(name)) for name, stats in self.connectors.items()}
        ))

    def active(self) -> RetrySnapshot:
        """Only the connectors that retried or gave up."""
        return RetrySnapshot(MappingProxyType(
            {name: stats for name, stats in self.connectors.items() if stats.active}
        ))

    def used(self) -> RetrySnapshot:
        """Only the connectors that made calls, retried or gave up."""
        return RetrySnapshot(MappingProxyType(
            {name: stats for name, stats in self.connectors.items() if stats.calls or stats.active}
        ))

    def summary(self) -> str | None:
        """One line for people (``retries: mysql 12 (3.4 s waiting), ...``); None if nothing retried."""
        active = self.active()
        if not active:
            return None
        # Formatted from the manifest's rounded figure so the two never disagree
        # in the last digit (2.0504 s is 2.1 here but 2.05 -> "2.0" from the manifest).
        parts = [f"{name} {s.retries} ({round(s.wait_seconds, 3):.1f} s waiting"
                 + (f", gave up {s.gave_up} times" if s.gave_up else "") + ")"
                 for name, s in active.items()]
        return "retries: " + ", ".join(parts)


class _Counters:
    """The mutable totals behind one connector's :class:`ConnectorRetries`."""

    __slots__ = ("calls_by_bounds", "gave_up_after", "gave_up_seconds", "reached", "reasons",
                 "wait_seconds")

    def __init__(self) -> None:
        self.wait_seconds = 0.0
        self.reached: dict[int, int] = {}
        self.gave_up_after: dict[int, int] = {}
        self.gave_up_seconds = 0.0
        self.reasons: dict[str, int] = {}
        self.calls_by_bounds: dict[RetryBounds, int] = {}

    def frozen(self, name: str) -> ConnectorRetries:
        return ConnectorRetries(
            connector=name, wait_seconds=self.wait_seconds,
            reached=MappingProxyType(dict(self.reached)),
            gave_up_after=MappingProxyType(dict(self.gave_up_after)),
            gave_up_seconds=self.gave_up_seconds,
            reasons=MappingProxyType(dict(self.reasons)),
            calls_by_bounds=MappingProxyType(dict(self.calls_by_bounds)),
        )


class RetryRecorder:
    """Thread-safe counters per connector name; the module functions use one per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, _Counters] = {}

    def _get(self, connector: str) -> _Counters:
        counters = self._counters.get(connector)
        if counters is None:
            counters = self._counters[connector] = _Counters()
        return counters

    def record_call(self, connector: str, bounds: RetryBounds) -> None:
        """One call (query, request) starts, and may retry within ``bounds``."""
        with self._lock:
            calls = self._get(connector).calls_by_bounds
            calls[bounds] = calls.get(bounds, 0) + 1

    def record_retry(
        self, connector: str, *, attempt: int, wait_seconds: float, reason: str
    ) -> None:
        """Attempt number ``attempt`` of a call failed transiently; the next follows after the wait."""
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, not {attempt}")
        code = reason_code(reason)
        with self._lock:
            counters = self._get(connector)
            counters.reached[attempt + 1] = counters.reached.get(attempt + 1, 0) + 1
            counters.wait_seconds += max(0.0, float(wait_seconds))
            counters.reasons[code] = counters.reasons.get(code, 0) + 1

    def record_gave_up(self, connector: str, *, attempts: int, elapsed_seconds: float) -> None:
        """A call failed transiently ``attempts`` times and reached its bounds: no more retries."""
        with self._lock:
            counters = self._get(connector)
            counters.gave_up_after[attempts] = counters.gave_up_after.get(attempts, 0) + 1
            counters.gave_up_seconds += max(0.0, float(elapsed_seconds))

    def snapshot(self) -> RetrySnapshot:
        with self._lock:
            return RetrySnapshot(MappingProxyType(
                {name: counters.frozen(name) for name, counters in self._counters.items()}
            ))


_RECORDER = RetryRecorder()

record_call = _RECORDER.record_call
record_retry = _RECORDER.record_retry
record_gave_up = _RECORDER.record_gave_up
snapshot = _RECORDER.snapshot


def give_up_callback(connector: str) -> Callable[[Any], Any]:
    """A tenacity ``retry_error_callback`` that counts the give-up, then re-raises the last error.

    Duck-typed on tenacity's ``RetryCallState`` (core does not depend on
    tenacity), so every tenacity-based connector counts give-ups the same way.
    """

    def give_up(state: Any) -> Any:
        record_gave_up(connector, attempts=state.attempt_number,
                       elapsed_seconds=state.seconds_since_start or 0.0)
        if state.outcome is None:  # pragma: no cover - tenacity stops only after an attempt
            raise RuntimeError(f"{connector} retries stopped before any attempt")
        return state.outcome.result()  # raises the last attempt's exception, unchanged

    return give_up

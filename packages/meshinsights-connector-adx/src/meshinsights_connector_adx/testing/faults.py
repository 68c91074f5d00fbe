"""Fault injection shared by the test servers: which request gets which failure."""

from __future__ import annotations

import random
import threading

import attrs


@attrs.define
class Fault:
    """One injected failure, for the next ``times`` requests or at ``rate`` (0..1).

    ``kind`` is interpreted by the server (``throttle``, ``unavailable``,
    ``slow``, ``disconnect``, ``error``, ``malformed`` ...); ``options`` carries
    its details (``delay``, ``retry_after``, ``status``, ``code`` ...).
    """

    kind: str
    times: int | None = None
    rate: float | None = None
    paths: tuple[str, ...] = ()
    options: dict[str, object] = attrs.field(factory=dict)
    fired: int = 0

    def __attrs_post_init__(self) -> None:
        if (self.times is None) == (self.rate is None):
            raise ValueError("give exactly one of times= (next N requests) or rate= (0..1)")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must not be negative")


class FaultPlan:
    """The faults of one server; ``pick(path)`` says which fires for a request (thread safe)."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pick(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.paths and not any(path.startswith(p) for p in fault.paths):
                    continue
                if fault.times is not None:
                    if fault.fired < fault.times:
                        fault.fired += 1
                        return fault
                elif self._random.random() < (fault.rate or 0.0):
                    fault.fired += 1
                    return fault
            return None

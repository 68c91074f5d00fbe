"""Fault injection for the test server: which request gets which failure."""

from __future__ import annotations

import random
import threading

import attrs


@attrs.define
class Fault:
    """One injected failure, for the next ``times`` requests or at ``rate`` (0..1)."""

    kind: str
    times: int | None = None
    rate: float | None = None
    options: dict[str, object] = attrs.field(factory=dict)
    fired: int = 0

    def __attrs_post_init__(self) -> None:
        if (self.times is None) == (self.rate is None):
            raise ValueError("give exactly one of times= (next N requests) or rate= (0..1)")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")


class FaultPlan:
    """The faults of one server; ``pick()`` says which fires for a request (thread safe)."""

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

    def pick(self) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times is not None:
                    if fault.fired < fault.times:
                        fault.fired += 1
                        return fault
                elif self._random.random() < (fault.rate or 0.0):
                    fault.fired += 1
                    return fault
            return None

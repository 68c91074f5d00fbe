"""The Stage 1 thread pool: daemon threads, and a way to replace one that hangs.

``ThreadPoolExecutor`` joins its threads at interpreter exit, so one fetch
that never returns (a server that accepts and never answers) would hang the
whole program. Here a device past ``io_timeout`` is abandoned: its thread is
left to finish or hang on its own as a daemon, and a fresh thread takes its
place so the other devices keep their I/O capacity.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

_Item = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(Executor):
    """A minimal fixed-size executor of daemon threads that can grow by one per stuck thread."""

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._name = name
        self._lock = threading.Lock()
        self._closed = False
        self.abandoned = 0
        for _ in range(workers):
            self._spawn()

    def _spawn(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - delivered through the future
                future.set_exception(exc)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a pool that was shut down")
            future: Future[Any] = Future()
            self._queue.put((future, fn, args, kwargs))
            return future

    def replace_stuck_worker(self) -> None:
        """One thread hangs on an abandoned fetch: add another in its place."""
        with self._lock:
            if not self._closed:
                self.abandoned += 1
                self._spawn()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            # A thread stuck on an abandoned fetch is a daemon: do not wait for it.
            for thread in self._threads:
                thread.join(timeout=None if self.abandoned == 0 else 1.0)

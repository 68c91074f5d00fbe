"""Logging with the device id on every record of device work.

The pipeline marks each device's work with :func:`device_context`. While it
is active, every ``LogRecord`` created in that thread, by MeshInsights or by
user code logging through its own loggers, carries ``record.device_id``: the
first device context installs a record factory that chains to the one before
it. :class:`DeviceContextFilter` gives records outside device work
``device_id = "-"`` so that formats using ``%(device_id)s`` never fail
(:func:`configure_logging` installs it). Code running inside device work
must not pass ``device_id`` in ``extra`` (``logging`` refuses to overwrite an
attribute the record already has).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

current_device_id: ContextVar[str | None] = ContextVar("meshinsights_device_id", default=None)


_factory_lock = threading.Lock()
_factory_installed = False


def install_record_factory() -> None:
    """Stamp ``device_id`` on records made during device work (idempotent).

    A record factory reaches every record, whichever logger or handler it
    goes through (a filter on one logger or handler would not). Records made
    outside device work are left as they are.
    """
    global _factory_installed
    if _factory_installed:
        return
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            device_id = current_device_id.get()
            if device_id is not None:
                record.device_id = device_id
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


@contextmanager
def device_context(device_id: str | None) -> Iterator[None]:
    """Mark the code inside as work on ``device_id``: its log records carry it."""
    if not _factory_installed:
        install_record_factory()
    token = current_device_id.set(device_id)
    try:
        yield
    finally:
        current_device_id.reset(token)


class DeviceContextFilter(logging.Filter):
    """Adds ``record.device_id`` (``"-"`` outside device work) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "device_id", None) is None:
            record.device_id = current_device_id.get() or "-"
        return True


DEFAULT_FORMAT = "%(asctime)s %(levelname)-7s [%(device_id)s] %(name)s: %(message)s"


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure_logging` installs, recognised when it is called again."""


def configure_logging(level: str | int = "INFO", fmt: str = DEFAULT_FORMAT) -> logging.Handler:
    """Install one stderr handler on the ``meshinsights`` logger (for CLIs and scripts).

    Calling it again (a host running the CLI several times in one process)
    replaces the previous handler instead of printing every line twice.
    """
    root = logging.getLogger("meshinsights")
    for previous in [h for h in root.handlers if isinstance(h, _ConsoleHandler)]:
        root.removeHandler(previous)
    handler = _ConsoleHandler()
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(DeviceContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler

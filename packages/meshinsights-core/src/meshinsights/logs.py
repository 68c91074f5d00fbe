"""Logging with the device id on every record of device work.

The pipeline sets the current device in a context variable around each
device's work; :class:`DeviceContextFilter` copies it onto records, including
those of user code that logs through its own loggers, when installed on a
handler (``meshinsights`` CLI does so). The pipeline's own records always
carry ``device_id`` through ``extra``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

current_device_id: ContextVar[str | None] = ContextVar("meshinsights_device_id", default=None)


@contextmanager
def device_context(device_id: str) -> Iterator[None]:
    """Mark the code inside as work on ``device_id`` (for log records)."""
    token = current_device_id.set(device_id)
    try:
        yield
    finally:
        current_device_id.reset(token)


def device_extra(device_id: str | None) -> dict[str, str | None]:
    return {"device_id": device_id}


class DeviceContextFilter(logging.Filter):
    """Adds ``record.device_id`` (``"-"`` outside device work) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "device_id", None) is None:
            record.device_id = current_device_id.get() or "-"
        return True


DEFAULT_FORMAT = "%(asctime)s %(levelname)-7s [%(device_id)s] %(name)s: %(message)s"


def configure_logging(level: str | int = "INFO", fmt: str = DEFAULT_FORMAT) -> logging.Handler:
    """Install one stderr handler on the ``meshinsights`` logger (for CLIs and scripts)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(DeviceContextFilter())
    root = logging.getLogger("meshinsights")
    root.addHandler(handler)
    root.setLevel(level)
    return handler

"""Timestamped error and warning records kept on a data object."""

from __future__ import annotations

from datetime import datetime, timezone

import attrs


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@attrs.frozen
class Message:
    """One error or warning: when it happened, what was said, and where.

    ``stage`` is ``"io"`` or ``"cpu"`` for pipeline failures; ``component`` names
    the data source, normalizer or processor involved.
    """

    message: str
    timestamp: datetime = attrs.field(factory=utc_now)
    stage: str | None = None
    component: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str | None]:
        return {
            "timestamp": self.timestamp.isoformat(),
            "message": self.message,
            "stage": self.stage,
            "component": self.component,
        }

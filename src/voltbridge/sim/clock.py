"""Wall-clock time for OCPP timestamps, injectable so tests can pin it (STYLE.md 19).

Durations (meter intervals, session lengths) run on the event loop's clock, not on this one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """An OCPP date-time: UTC, milliseconds, with ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

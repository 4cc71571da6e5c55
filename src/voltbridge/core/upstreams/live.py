"""What the multiplexer shows of its legs: live state, counters and the recent message log.

The legs live in proxy/; the API reads them through `UpstreamLegs`, so it never imports proxy/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class LegStatus(StrEnum):
    """Where a leg stands."""

    DISABLED = "disabled"  # the upstream is disabled: no leg
    IDLE = "idle"  # the charger is not connected and nothing waits for the upstream: no leg
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKING_OFF = "backing_off"  # waiting until `next_attempt_at` to reconnect


class Direction(StrEnum):
    UP = "up"  # from voltbridge to the upstream
    DOWN = "down"  # from the upstream to voltbridge


@dataclass(frozen=True, slots=True)
class LegState:
    """A snapshot of one leg's state and counters (counters survive reconnects, not restarts)."""

    status: LegStatus
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    connected_since: datetime | None = None
    messages_up: int = 0
    messages_down: int = 0
    refused: Mapping[str, int] = field(default_factory=dict)
    outbox_depth: int = 0
    queue_depth: int = 0
    dropped: int = 0
    skipped: int = 0
    last_latency_ms: float | None = None
    reconnects: int = 0
    fallbacks: int = 0
    last_up_at: datetime | None = None
    last_down_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """One frame on a leg, or something the multiplexer did with one (`note`)."""

    at: datetime
    direction: Direction
    kind: str  # CALL | CALLRESULT | CALLERROR | EVENT
    unique_id: str | None
    action: str | None
    payload: Mapping[str, object] | None
    note: str | None = None


class UpstreamLegs(Protocol):
    """The multiplexer, as the API sees it."""

    def state(self, upstream_id: int) -> LegState | None:
        """The leg's state, or None when no leg exists (disabled, or idle)."""
        ...

    def messages(self, upstream_id: int) -> Sequence[LoggedMessage]:
        """The leg's recent frames, oldest first (bounded)."""
        ...

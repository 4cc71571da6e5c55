"""Counters and the recent message log of one leg (kept per upstream, across reconnects)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from voltbridge.core.upstreams import Direction, LegState, LegStatus, LoggedMessage


@dataclass
class LegStats:
    """What a leg has done; `snapshot` turns it into the API's `LegState`."""

    log_size: int
    status: LegStatus = LegStatus.IDLE
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    connected_since: datetime | None = None
    messages_up: int = 0
    messages_down: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    skipped: int = 0
    last_latency_ms: float | None = None
    reconnects: int = 0
    connections: int = 0
    fallbacks: int = 0
    last_up_at: datetime | None = None
    last_down_at: datetime | None = None
    log: deque[LoggedMessage] = field(init=False)

    def __post_init__(self) -> None:
        self.log = deque(maxlen=self.log_size)

    def up(
        self,
        at: datetime,
        kind: str,
        unique_id: str,
        action: str | None,
        payload: Mapping[str, Any] | None,
        note: str | None = None,
    ) -> None:
        self.messages_up += 1
        self.last_up_at = at
        self.log.append(LoggedMessage(at, Direction.UP, kind, unique_id, action, payload, note))

    def down(
        self,
        at: datetime,
        kind: str,
        unique_id: str | None,
        action: str | None,
        payload: Mapping[str, Any] | None,
        note: str | None = None,
    ) -> None:
        self.messages_down += 1
        self.last_down_at = at
        self.log.append(LoggedMessage(at, Direction.DOWN, kind, unique_id, action, payload, note))

    def event(self, at: datetime, note: str, action: str | None = None) -> None:
        """Something the multiplexer did that is not a frame (a drop, a skip, a fallback)."""
        self.log.append(LoggedMessage(at, Direction.UP, "EVENT", None, action, None, note))

    def error(self, at: datetime, text: str) -> None:
        self.last_error = text
        self.last_error_at = at

    def refuse(self, action: str) -> None:
        self.refused[action] = self.refused.get(action, 0) + 1

    def snapshot(self, *, outbox_depth: int, queue_depth: int) -> LegState:
        return LegState(
            status=self.status,
            next_attempt_at=self.next_attempt_at if self.status is LegStatus.BACKING_OFF else None,
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            connected_since=self.connected_since if self.status is LegStatus.CONNECTED else None,
            messages_up=self.messages_up,
            messages_down=self.messages_down,
            refused=dict(self.refused),
            outbox_depth=outbox_depth,
            queue_depth=queue_depth,
            dropped=self.dropped,
            skipped=self.skipped,
            last_latency_ms=self.last_latency_ms,
            reconnects=self.reconnects,
            fallbacks=self.fallbacks,
            last_up_at=self.last_up_at,
            last_down_at=self.last_down_at,
        )

"""Events of the upstream registry, published after the change has committed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from voltbridge.bus import Event


@dataclass(frozen=True, kw_only=True)
class UpstreamChanged(Event):
    """An upstream was created or changed (URL, role, credentials, enabled)."""

    topic: ClassVar[str] = "upstream.changed"
    upstream_id: int
    station_id: str


@dataclass(frozen=True, kw_only=True)
class UpstreamDeleted(Event):
    """An upstream was deleted (disconnected from its station): its leg must go at once."""

    topic: ClassVar[str] = "upstream.deleted"
    upstream_id: int
    station_id: str

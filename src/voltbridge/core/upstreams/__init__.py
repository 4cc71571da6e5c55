"""Upstreams of the multiplexer: the registry, its events, the durable outbox and the live view."""

from voltbridge.core.upstreams.events import UpstreamChanged, UpstreamDeleted
from voltbridge.core.upstreams.live import Direction, LegState, LegStatus, LoggedMessage, UpstreamLegs
from voltbridge.core.upstreams.outbox import OutboxClosed, OutboxService
from voltbridge.core.upstreams.records import OutboxEntry, OutboxMessage, TransactionLink
from voltbridge.core.upstreams.service import Role, UpstreamChange, UpstreamService, UpstreamSpec

__all__ = [
    "Direction",
    "LegState",
    "LegStatus",
    "LoggedMessage",
    "OutboxClosed",
    "OutboxEntry",
    "OutboxMessage",
    "OutboxService",
    "Role",
    "TransactionLink",
    "UpstreamChange",
    "UpstreamChanged",
    "UpstreamDeleted",
    "UpstreamLegs",
    "UpstreamService",
    "UpstreamSpec",
]

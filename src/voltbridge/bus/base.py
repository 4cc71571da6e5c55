"""The bus: commands to the node that holds a charger's socket, and domain events to subscribers.

In one process it is an in-memory dispatcher (`LocalBus`); in a cluster NATS request/reply and
subjects. Nothing else knows where a socket lives.

    BusError
    ├── NotConnected    no node holds a socket for that station
    ├── CallTimeout     the station did not answer in time
    ├── QueueFull       too many commands are already waiting for that station
    └── CallRejected    the station answered with a CALLERROR
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar


class BusError(Exception):
    """Base of the errors a bus call can end with."""


class NotConnected(BusError):
    """Raised when no node holds a socket for the station."""


class CallTimeout(BusError):
    """Raised when the station did not answer within the timeout."""


class QueueFull(BusError):
    """Raised when too many commands already wait for the station's one CALL in flight."""


class CallRejected(BusError):
    """Raised when the station answered with a CALLERROR."""

    def __init__(self, code: str, description: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}


@dataclass(frozen=True, kw_only=True)
class Event:
    """A domain event. Subclasses set `topic` and are frozen dataclasses of plain values.

    Two class attributes tell a subscriber's queue how to keep the event (bus/subscribers.py):

    - `ordered_by` names the field that says what the event is about (its scope, e.g. "station_id").
      A subscriber gets one scope's events in the order they were published, one at a time; a
      subscription with `concurrency` handles different scopes side by side. Events without a scope
      share one.
    - `latest_by` marks a reading, an event whose newest value is all that matters (a meter
      reading), and names the fields that, within its scope, say what it is a reading of. A newer
      reading takes the place of an older one of the same thing still queued, as long as no other
      kind of event of its scope was queued after the older one. Only readings are ever dropped (at
      a full queue); other events are kept.
    """

    topic: ClassVar[str] = "event"
    ordered_by: ClassVar[str | None] = None
    latest_by: ClassVar[tuple[str, ...]] = ()


E = TypeVar("E", bound=Event)

CallHandler = Callable[[str, dict[str, Any], float], Awaitable[dict[str, Any]]]
"""What a gateway registers for a station it holds: (action, payload, timeout) -> response payload."""

EventHandler = Callable[[E], Awaitable[None]]


@dataclass
class SubscriptionStats:
    """What a subscriber's queue has seen.

    Every event offered to the subscription is delivered, failed, dropped, coalesced or still queued
    (`depth`, plus the ones being handled).
    """

    name: str
    delivered: int = 0
    dropped: int = 0  # readings not queued because the queue held its limit of readings
    coalesced: int = 0  # readings replaced, while queued, by a newer reading of the same thing
    failed: int = 0
    depth: int = 0


class Bus(Protocol):
    """Route commands to stations and events to subscribers."""

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        """Send a CALL to a station wherever its socket lives; returns its CALLRESULT payload."""
        ...

    async def register_station(self, station_id: str, handler: CallHandler) -> None:
        """Announce that this node holds the station's socket (replacing any earlier holder)."""
        ...

    async def unregister_station(self, station_id: str, handler: CallHandler) -> None:
        """Withdraw `handler` for the station, if it is still the registered one."""
        ...

    def holds(self, station_id: str) -> bool:
        """Whether a socket for this station is registered (on any node)."""
        ...

    async def publish(self, event: Event) -> None:
        """Hand an event to every subscriber of its type; never waits on a subscriber."""
        ...

    def subscribe(
        self, event_type: type[E], handler: EventHandler[E], *, name: str, concurrency: int = 1
    ) -> None:
        """Deliver events of `event_type` (and subclasses) to `handler`, in order.

        Up to `concurrency` events are handled at once, never two of the same scope
        (`Event.ordered_by`); with 1, one at a time in publish order. A reading still queued may be
        replaced by a newer one (`Event.latest_by`); no other event is dropped.
        """
        ...

    def stats(self) -> list[SubscriptionStats]:
        """Delivery statistics per subscription."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

"""The bus: `Bus` interface, the in-process `LocalBus`, and (cluster) `NatsBus`."""

from voltbridge.bus.base import (
    Bus,
    BusError,
    CallHandler,
    CallRejected,
    CallTimeout,
    Event,
    EventHandler,
    NotConnected,
    QueueFull,
    SubscriptionStats,
)
from voltbridge.bus.local import LocalBus

__all__ = [
    "Bus",
    "BusError",
    "CallHandler",
    "CallRejected",
    "CallTimeout",
    "Event",
    "EventHandler",
    "LocalBus",
    "NotConnected",
    "QueueFull",
    "SubscriptionStats",
]

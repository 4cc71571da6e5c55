"""The in-process bus: a dict of station handlers and one queue per subscription."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voltbridge.bus.base import (
    CallHandler,
    CallTimeout,
    E,
    Event,
    EventHandler,
    NotConnected,
    SubscriptionStats,
)
from voltbridge.bus.subscribers import Subscribers

log = logging.getLogger(__name__)


class LocalBus:
    """A bus for one process. Subscribers run in tasks the bus owns (queues: bus/subscribers.py)."""

    def __init__(self, *, queue_limit: int = 10_000) -> None:
        self._handlers: dict[str, CallHandler] = {}
        self._subscribers = Subscribers(queue_limit)

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        handler = self._handlers.get(station_id)
        if handler is None:
            raise NotConnected(station_id)
        try:
            # The handler enforces the timeout itself; this is a safety net for a stuck handler.
            async with asyncio.timeout(timeout + 1.0):
                return await handler(action, payload, timeout)
        except TimeoutError as exc:
            raise CallTimeout(station_id) from exc

    async def register_station(self, station_id: str, handler: CallHandler) -> None:
        self._handlers[station_id] = handler

    async def unregister_station(self, station_id: str, handler: CallHandler) -> None:
        # `==`, not `is`: a bound method (Connection.call) is a new object at every attribute access.
        if self._handlers.get(station_id) == handler:
            del self._handlers[station_id]

    def holds(self, station_id: str) -> bool:
        return station_id in self._handlers

    async def publish(self, event: Event) -> None:
        self._subscribers.offer(event)

    def subscribe(
        self, event_type: type[E], handler: EventHandler[E], *, name: str, concurrency: int = 1
    ) -> None:
        self._subscribers.add(event_type, handler, name, concurrency)

    def stats(self) -> list[SubscriptionStats]:
        return self._subscribers.stats()

    async def drain(self) -> None:
        """Wait until every queued event has been handled (tests and shutdown)."""
        await self._subscribers.drain()

    async def start(self) -> None:
        self._subscribers.start()

    async def close(self) -> None:
        await self._subscribers.stop(drain_timeout=5.0)

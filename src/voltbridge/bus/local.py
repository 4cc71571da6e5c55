"""The in-process bus: a dict of station handlers and one ordered queue per subscription."""

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

log = logging.getLogger(__name__)


class _Subscription:
    def __init__(self, event_type: type[Event], handler: EventHandler[Any], name: str, limit: int) -> None:
        self.event_type = event_type
        self.handler = handler
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=limit)
        self.stats = SubscriptionStats(name=name)

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.handler(event)
                self.stats.delivered += 1
            except Exception:
                self.stats.failed += 1
                log.exception("subscriber %s failed on %s", self.stats.name, event.topic)
            finally:
                self.queue.task_done()


class LocalBus:
    """A bus for one process. Subscribers run in tasks the bus owns; a full queue drops and counts."""

    def __init__(self, *, queue_limit: int = 10_000) -> None:
        self._handlers: dict[str, CallHandler] = {}
        self._subscriptions: list[_Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._queue_limit = queue_limit
        self._started = False

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
        for sub in self._subscriptions:
            if isinstance(event, sub.event_type):
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.stats.dropped += 1
                    log.warning("subscriber %s is full; dropped %s", sub.stats.name, event.topic)

    def subscribe(self, event_type: type[E], handler: EventHandler[E], *, name: str) -> None:
        sub = _Subscription(event_type, handler, name, self._queue_limit)
        self._subscriptions.append(sub)
        if self._started:
            self._tasks.append(asyncio.create_task(sub.run(), name=f"bus-sub-{name}"))

    def stats(self) -> list[SubscriptionStats]:
        for sub in self._subscriptions:
            sub.stats.depth = sub.queue.qsize()
        return [sub.stats for sub in self._subscriptions]

    async def drain(self) -> None:
        """Wait until every queued event has been handled (tests and shutdown)."""
        for sub in self._subscriptions:
            await sub.queue.join()

    async def start(self) -> None:
        self._started = True
        for sub in self._subscriptions:
            self._tasks.append(asyncio.create_task(sub.run(), name=f"bus-sub-{sub.stats.name}"))

    async def close(self) -> None:
        if self._started:
            try:
                await asyncio.wait_for(self.drain(), timeout=5.0)
            except TimeoutError:
                log.warning("bus closed with undelivered events: %s", [s for s in self.stats() if s.depth])
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._started = False

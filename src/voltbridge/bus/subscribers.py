"""Subscribers of a bus: one ordered, bounded queue and one task each, so a slow one delays nobody.

Both buses deliver through this: the local bus offers events as they are published, the NATS bus as
they arrive from any node.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voltbridge.bus.base import E, Event, EventHandler, SubscriptionStats

log = logging.getLogger(__name__)


class Subscription:
    """One subscriber: its queue (full: the event is dropped and counted) and its delivery loop."""

    def __init__(self, event_type: type[Event], handler: EventHandler[Any], name: str, limit: int) -> None:
        self.event_type = event_type
        self.handler = handler
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=limit)
        self.stats = SubscriptionStats(name=name)

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            log.warning("subscriber %s is full; dropped %s", self.stats.name, event.topic)

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


class Subscribers:
    """The subscriptions of one bus, and the tasks that deliver to them (owned here, never forgotten)."""

    def __init__(self, queue_limit: int) -> None:
        self._queue_limit = queue_limit
        self._all: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    def add(self, event_type: type[E], handler: EventHandler[E], name: str) -> None:
        sub = Subscription(event_type, handler, name, self._queue_limit)
        self._all.append(sub)
        if self._running:
            self._tasks.append(asyncio.create_task(sub.run(), name=f"bus-sub-{name}"))

    def wanting(self, event_type: type[Event]) -> list[Subscription]:
        """The subscriptions that take events of this type."""
        return [sub for sub in self._all if issubclass(event_type, sub.event_type)]

    def offer(self, event: Event) -> None:
        for sub in self.wanting(type(event)):
            sub.offer(event)

    def stats(self) -> list[SubscriptionStats]:
        for sub in self._all:
            sub.stats.depth = sub.queue.qsize()
        return [sub.stats for sub in self._all]

    async def drain(self) -> None:
        """Wait until every queued event has been handled."""
        for sub in self._all:
            await sub.queue.join()

    def start(self) -> None:
        self._running = True
        for sub in self._all:
            self._tasks.append(asyncio.create_task(sub.run(), name=f"bus-sub-{sub.stats.name}"))

    async def stop(self, *, drain_timeout: float) -> None:
        """Deliver what is queued (up to the timeout), then stop the delivery tasks."""
        if self._running:
            try:
                await asyncio.wait_for(self.drain(), timeout=drain_timeout)
            except TimeoutError:
                log.warning("bus closed with undelivered events: %s", [s for s in self.stats() if s.depth])
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._running = False

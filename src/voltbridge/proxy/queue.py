"""A leg's outgoing messages, in the order the charger sent them.

Durable entries (mirrors of outbox rows) are never dropped here; the database is their truth. Other
messages are bounded: past `limit` the oldest is dropped and counted. The head stays in the queue
while it is in flight, so a broken link leaves it to be sent again after the reconnect.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Payload = dict[str, Any]


@dataclass(eq=False, slots=True)
class Outgoing:
    """One message for the upstream."""

    action: str
    payload: Payload
    entry_id: int | None = None  # the outbox row, for a durable message
    transaction_id: int | None = None  # ours, for messages about a transaction
    reply: asyncio.Future[Payload] | None = None  # someone waits for the answer (an authorization)
    resync: bool = False  # built by the leg on connect, not sent by the charger
    attempts: int = 0

    @property
    def durable(self) -> bool:
        return self.entry_id is not None

    @property
    def droppable(self) -> bool:
        return self.entry_id is None and self.reply is None and not self.resync


class SendQueue:
    """FIFO with a bound on droppable messages; `next` waits for work."""

    def __init__(self, limit: int) -> None:
        self._items: deque[Outgoing] = deque()
        self._limit = limit
        self._droppable = 0
        self._entry_ids: set[int] = set()
        self._changed = asyncio.Event()
        self.in_flight: Outgoing | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def durable(self) -> int:
        return len(self._entry_ids)

    def push(self, item: Outgoing) -> Outgoing | None:
        """Append; returns the message dropped to make room, if any."""
        if item.entry_id is not None:
            if item.entry_id in self._entry_ids:
                return None
            self._entry_ids.add(item.entry_id)
        self._items.append(item)
        dropped = None
        if item.droppable:
            self._droppable += 1
            if self._droppable > self._limit:
                dropped = self._drop_oldest()
        self._changed.set()
        return dropped

    def push_front(self, items: Iterable[Outgoing]) -> None:
        """Put messages before everything queued (re-sync on connect)."""
        for item in reversed(list(items)):
            self._items.appendleft(item)
        self._changed.set()

    def merge_loaded(self, items: Iterable[Outgoing]) -> None:
        """Put durable messages read from the outbox first, in their order, skipping ones already here."""
        fresh = [i for i in items if i.entry_id is not None and i.entry_id not in self._entry_ids]
        self._entry_ids.update(i.entry_id for i in fresh if i.entry_id is not None)
        self.push_front(fresh)

    def head(self) -> Outgoing | None:
        return self._items[0] if self._items else None

    def remove(self, item: Outgoing) -> None:
        try:
            self._items.remove(item)
        except ValueError:
            return  # dropped meanwhile
        if item.entry_id is not None:
            self._entry_ids.discard(item.entry_id)
        if item.droppable:
            self._droppable -= 1

    def take_where(self, keep: Callable[[Outgoing], bool]) -> list[Outgoing]:
        """Remove and return the messages for which `keep(item)` is false."""
        gone = [i for i in self._items if not keep(i)]
        for item in gone:
            self.remove(item)
        return gone

    def wake(self) -> None:
        self._changed.set()

    async def changed(self) -> None:
        """Wait until something is pushed or `wake` is called."""
        await self._changed.wait()
        self._changed.clear()

    def _drop_oldest(self) -> Outgoing | None:
        for item in self._items:
            if item.droppable and item is not self.in_flight:
                self.remove(item)
                return item
        return None

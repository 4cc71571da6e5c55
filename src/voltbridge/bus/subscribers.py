"""Subscribers of a bus: one queue and its delivery tasks each, so a slow one delays nobody.

Both buses deliver through this: the local bus offers events as they are published, the NATS bus as
they arrive from any node. What a subscriber's queue keeps is decided here, once:

- **Order.** Events of one scope (`Event.ordered_by`, e.g. one station) are handled one at a time,
  in the order they were published. A subscription with `concurrency` > 1 handles that many scopes
  side by side, the one waiting longest first; with 1, everything in publish order (a reading
  that replaced an older one takes that one's place).
- **Readings coalesce.** A reading (`Event.latest_by`, e.g. MeterValuesReceived) that arrives while
  an older reading of the same thing is still queued takes the older one's place (counted as
  `coalesced`). Once another kind of event of its scope (a stop, a disconnect) is queued behind
  the older reading, a newer one queues behind that event instead, so readings never jump over
  their scope's other events. Readings of different things are not ordered against each other.
- **Nothing else is dropped.** Starts, stops, connections and billing's events carry money or
  state that no later event repeats.

So a queue holds, per thing being read, at most one reading between two of its scope's other
events: it grows with the events that matter, not with the rate of readings. The queue limit caps
the readings: one that replaces none while `limit` readings are queued is dropped (counted as
`dropped`). Other events are kept, past the limit too (a subscriber that far behind is a fault to
fix, not a reason to lose a session's stop). A queue holding more than `limit` events is logged as
overloaded once, and again when it has caught up.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from voltbridge.bus.base import E, Event, EventHandler, SubscriptionStats

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    """What a queue did with an offered event."""

    QUEUED = "queued"
    COALESCED = "coalesced"  # it replaced an older queued reading of the same thing
    DROPPED = "dropped"  # a reading, and the queue held its limit of readings


@dataclass(slots=True, eq=False)
class _Entry:
    seq: int
    scope: Hashable
    subject: Hashable | None  # readings only: what it is a reading of
    event: Event


# Per event class: its scope field and a reader of its reading fields (None: not a reading).
_kinds: dict[type[Event], tuple[str | None, Callable[[Event], Any] | None]] = {}


def _kind(cls: type[Event]) -> tuple[str | None, Callable[[Event], Any] | None]:
    kind = _kinds.get(cls)
    if kind is None:
        kind = _kinds[cls] = (cls.ordered_by, attrgetter(*cls.latest_by) if cls.latest_by else None)
    return kind


class EventQueue:
    """A subscriber's queue: readings coalesced, and lanes (see the module docstring).

    With `by_scope`, each scope has its own lane: `take` hands out the oldest first entry among the
    lanes not being handled, and `done` returns the lane, so one scope is never handled twice at once.
    Without, there is one lane and events go one at a time in publish order.
    """

    def __init__(self, limit: int, *, by_scope: bool = False) -> None:
        self.limit = limit
        self.depth = 0  # queued, not yet taken
        self.readings = 0  # of which readings
        self._by_scope = by_scope
        self._seq = itertools.count()
        self._lanes: dict[Hashable, deque[_Entry]] = {}
        self._ready: list[tuple[int, Hashable]] = []  # heap of (seq of its first entry, lane)
        self._busy: set[Hashable] = set()
        # The newest queued reading of each subject, and per scope the newest other event queued: a
        # reading queued before that event can no longer be replaced.
        self._open: dict[Hashable, _Entry] = {}
        self._barrier: dict[Hashable, int] = {}
        self._unfinished = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._wakeup = asyncio.Event()

    def put(self, event: Event) -> Outcome:
        field, read = _kind(type(event))
        scope = None if field is None else (field, getattr(event, field))
        seq = next(self._seq)
        subject = None
        if read is not None:
            subject = (type(event), scope, read(event))
            queued = self._open.get(subject)
            if queued is not None and queued.seq > self._barrier.get(scope, -1):
                queued.event = event
                return Outcome.COALESCED
            if self.readings >= self.limit:
                return Outcome.DROPPED
            self.readings += 1
        else:
            self._barrier[scope] = seq
        entry = _Entry(seq, scope, subject, event)
        key = scope if self._by_scope else None
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = deque()
        lane.append(entry)
        if len(lane) == 1 and key not in self._busy:
            heapq.heappush(self._ready, (entry.seq, key))
            self._wakeup.set()
        if subject is not None:
            self._open[subject] = entry
        self.depth += 1
        if not self._unfinished:
            self._idle.clear()
        self._unfinished += 1
        return Outcome.QUEUED

    async def take(self) -> _Entry:
        """The next event to handle; its lane is busy until `done`."""
        while not self._ready:
            self._wakeup.clear()
            await self._wakeup.wait()
        _, key = heapq.heappop(self._ready)
        lane = self._lanes[key]
        entry = lane.popleft()
        if not lane and self._by_scope:
            del self._lanes[key]  # lanes of scopes with nothing queued are not kept
        self._busy.add(key)
        if entry.subject is None:
            # Every reading of its scope queued before it is taken too: nothing left to seal.
            if self._barrier.get(entry.scope) == entry.seq:
                del self._barrier[entry.scope]
        else:
            self.readings -= 1
            if self._open.get(entry.subject) is entry:
                del self._open[entry.subject]
        self.depth -= 1
        return entry

    def done(self, entry: _Entry) -> None:
        """The entry was handled (or failed): its lane's next event may go."""
        key = entry.scope if self._by_scope else None
        self._busy.discard(key)
        lane = self._lanes.get(key)
        if lane:
            heapq.heappush(self._ready, (lane[0].seq, key))
            self._wakeup.set()
        self._unfinished -= 1
        if self._unfinished == 0:
            self._idle.set()

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        await self._idle.wait()


class Subscription:
    """One subscriber: its queue and `concurrency` delivery loops."""

    def __init__(
        self, event_type: type[Event], handler: EventHandler[Any], name: str, limit: int, concurrency: int
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"subscriber {name}: concurrency must be at least 1, not {concurrency}")
        self.event_type = event_type
        self.handler = handler
        self.concurrency = concurrency
        self.queue = EventQueue(limit, by_scope=concurrency > 1)
        self.stats = SubscriptionStats(name=name)
        self._overloaded = False

    def offer(self, event: Event) -> None:
        outcome = self.queue.put(event)
        if outcome is Outcome.COALESCED:
            self.stats.coalesced += 1
        elif outcome is Outcome.DROPPED:
            self.stats.dropped += 1
        if not self._overloaded and (outcome is Outcome.DROPPED or self.queue.depth > self.queue.limit):
            self._overloaded = True
            log.warning(
                "subscriber %s is overloaded: %d events queued, %d of them readings (limit %d); "
                "readings past the limit are dropped, other events kept (this one %s: %s)",
                self.stats.name,
                self.queue.depth,
                self.queue.readings,
                self.queue.limit,
                outcome.value,
                event.topic,
            )

    async def run(self) -> None:
        while True:
            entry = await self.queue.take()
            try:
                await self.handler(entry.event)
                self.stats.delivered += 1
            except Exception:
                self.stats.failed += 1
                log.exception("subscriber %s failed on %s", self.stats.name, entry.event.topic)
            finally:
                self.queue.done(entry)
            if self._overloaded and self.queue.depth <= self.queue.limit // 2:
                self._overloaded = False
                log.warning(
                    "subscriber %s caught up (%d queued); so far %d readings dropped, %d coalesced",
                    self.stats.name,
                    self.queue.depth,
                    self.stats.dropped,
                    self.stats.coalesced,
                )


class Subscribers:
    """The subscriptions of one bus, and the tasks that deliver to them (owned here, never forgotten)."""

    def __init__(self, queue_limit: int) -> None:
        self._queue_limit = queue_limit
        self._all: list[Subscription] = []
        self._wanting: dict[type[Event], list[Subscription]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    def add(self, event_type: type[E], handler: EventHandler[E], name: str, concurrency: int = 1) -> None:
        sub = Subscription(event_type, handler, name, self._queue_limit, concurrency)
        self._all.append(sub)
        self._wanting.clear()
        if self._running:
            self._start(sub)

    def wanting(self, event_type: type[Event]) -> list[Subscription]:
        """The subscriptions that take events of this type."""
        subs = self._wanting.get(event_type)
        if subs is None:
            subs = self._wanting[event_type] = [s for s in self._all if issubclass(event_type, s.event_type)]
        return subs

    def offer(self, event: Event) -> None:
        for sub in self.wanting(type(event)):
            sub.offer(event)

    def stats(self) -> list[SubscriptionStats]:
        for sub in self._all:
            sub.stats.depth = sub.queue.depth
        return [sub.stats for sub in self._all]

    async def drain(self) -> None:
        """Wait until every queued event has been handled."""
        for sub in self._all:
            await sub.queue.join()

    def start(self) -> None:
        self._running = True
        for sub in self._all:
            self._start(sub)

    def _start(self, sub: Subscription) -> None:
        for n in range(sub.concurrency):
            self._tasks.append(asyncio.create_task(sub.run(), name=f"bus-sub-{sub.stats.name}-{n}"))

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

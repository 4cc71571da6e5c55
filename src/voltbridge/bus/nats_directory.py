"""Which node holds which station, known on every node without a request.

Routing does not depend on this: a command goes to the station's subject and whoever subscribed
answers. The directory serves two other needs:

- `holds()` on any node, so the API and portal behind a load balancer show the same "connected"
  whichever node answers, without a network round trip per station;
- handing a station over: when a charger reconnects to another node, the old node learns of the
  newer claim and withdraws its subscription, so commands reach only the new socket.

Each node writes `station token -> {node, instance}` into a JetStream KV bucket when it registers
a station and deletes the key (only if still its own) when it unregisters; every node watches the
bucket into a dict. A node that dies cannot delete its keys, so entries count only while their
instance is alive: nodes publish a heartbeat, say goodbye on close, and an instance silent for
three heartbeats is taken as gone. The directory is advisory: if JetStream is unavailable it is
off and `holds()` falls back to this node's own stations.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.kv import KeyValue

from voltbridge.bus.subjects import Subjects, station_id_from_token, station_token

log = logging.getLogger(__name__)

MISSED_HEARTBEATS = 3
"""An instance silent for this many heartbeat intervals no longer holds its stations."""


@dataclass(frozen=True)
class Holder:
    """A node process: its configured id, and an instance id that is new at every start."""

    node_id: str
    instance: str

    def encode(self) -> bytes:
        return json.dumps({"node": self.node_id, "instance": self.instance}).encode()

    @classmethod
    def decode(cls, data: bytes) -> Holder:
        """Raises ValueError for anything but what `encode` writes."""
        try:
            body = json.loads(data)
            holder = cls(node_id=body["node"], instance=body["instance"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a holder: {data[:80]!r}") from exc
        if not (isinstance(holder.node_id, str) and isinstance(holder.instance, str)):
            raise ValueError(f"not a holder: {data[:80]!r}")
        return holder


@dataclass(frozen=True)
class _Claim:
    holder: Holder
    revision: int


LostHandler = Callable[[str, Holder], Awaitable[None]]
"""Told when another node claimed a station this node holds: (station_id, new holder)."""


class StationDirectory:
    """A watched KV bucket of station holders, with heartbeats to ignore dead nodes' entries."""

    def __init__(
        self,
        nc: Client,
        subjects: Subjects,
        me: Holder,
        *,
        heartbeat: float,
        on_lost: LostHandler,
        queue_limit: int = 100_000,
    ) -> None:
        self._nc = nc
        self._subjects = subjects
        self.me = me
        self._heartbeat = heartbeat
        self._on_lost = on_lost
        self._kv: KeyValue | None = None
        self._watcher: KeyValue.KeyWatcher | None = None
        self._view: dict[str, _Claim] = {}
        self._mine: dict[str, int] = {}  # station -> revision of our claim, once written
        self._last_seen: dict[str, float] = {}
        self._gone: set[str] = set()
        self._writes: asyncio.Queue[tuple[Literal["claim", "release"], str]] = asyncio.Queue(queue_limit)
        self._subs: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped_writes = 0

    @property
    def enabled(self) -> bool:
        """Whether the cluster-wide view is available (JetStream answered at start)."""
        return self._kv is not None

    async def start(self, *, timeout: float) -> None:
        """Open the bucket and read it fully; without JetStream, log and stay off."""
        try:
            async with asyncio.timeout(timeout):
                self._kv = await self._bucket()
                self._watcher = await self._kv.watchall()
                # The first None marks the end of the current contents.
                while (entry := await self._watcher.updates(timeout=timeout)) is not None:  # type: ignore[no-untyped-call]
                    await self._apply(entry)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning(
                "station directory off (JetStream bucket %s unavailable: %r); "
                "holds() will only know this node's stations",
                self._subjects.directory_bucket,
                exc,
            )
            self._kv = None
            return
        self._subs.append(await self._nc.subscribe(self._subjects.alive, cb=self._on_alive))
        self._subs.append(await self._nc.subscribe(self._subjects.gone, cb=self._on_gone))
        self._tasks = [
            asyncio.create_task(self._watch(), name="bus-directory-watch"),
            asyncio.create_task(self._write_loop(), name="bus-directory-write"),
            asyncio.create_task(self._beat(), name="bus-directory-heartbeat"),
        ]

    async def _bucket(self) -> KeyValue:
        js = self._nc.jetstream()
        name = self._subjects.directory_bucket
        try:
            return await js.key_value(name)
        except nats.js.errors.BucketNotFoundError:
            # Two nodes creating it at once is fine: an identical stream config is accepted.
            return await js.create_key_value(
                bucket=name, history=1, description="voltbridge: which node holds each station's socket"
            )

    def claim(self, station_id: str) -> None:
        """Record (soon, in order) that this node now holds the station."""
        self._enqueue("claim", station_id)

    def release(self, station_id: str) -> None:
        """Remove this node's record for the station, unless another node claimed it since."""
        self._enqueue("release", station_id)

    def holder(self, station_id: str) -> Holder | None:
        """The live holder of the station according to the bucket (another node or this one)."""
        claim = self._view.get(station_id)
        if claim is None or not self._alive(claim.holder.instance):
            return None
        return claim.holder

    async def close(self, *, timeout: float) -> None:
        """Write what is queued, say goodbye, stop watching."""
        if self._kv is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._writes.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        with contextlib.suppress(nats.errors.Error):
            await self._nc.publish(self._subjects.gone, self.me.encode())
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        self._subs.clear()
        if self._watcher is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._watcher.stop()  # type: ignore[no-untyped-call]
        self._kv = None

    def _enqueue(self, op: Literal["claim", "release"], station_id: str) -> None:
        if self._kv is None:
            return
        try:
            self._writes.put_nowait((op, station_id))
        except asyncio.QueueFull:
            self.dropped_writes += 1
            log.warning("station directory queue is full; %s of %s not recorded", op, station_id)

    def _alive(self, instance: str) -> bool:
        if instance == self.me.instance:
            return True
        if instance in self._gone:
            return False
        seen = self._last_seen.get(instance)
        return seen is not None and time.monotonic() - seen <= MISSED_HEARTBEATS * self._heartbeat

    async def _watch(self) -> None:
        assert self._watcher is not None
        async for entry in self._watcher:
            if entry is None:
                continue
            try:
                await self._apply(entry)
            except Exception:
                log.exception("station directory: could not apply the entry for %s", entry.key)

    async def _apply(self, entry: KeyValue.Entry) -> None:
        try:
            station_id = station_id_from_token(entry.key)
        except ValueError:
            return  # not ours; someone else writes to the bucket
        if entry.operation in ("DEL", "PURGE") or not entry.value or entry.revision is None:
            self._view.pop(station_id, None)
            return
        try:
            holder = Holder.decode(entry.value)
        except ValueError:
            log.warning("station directory: unreadable entry for %s", station_id)
            return
        self._view[station_id] = _Claim(holder, entry.revision)
        # An instance first seen in the bucket gets the benefit of the doubt for a few
        # heartbeats; if it is alive it will say so before that runs out.
        self._last_seen.setdefault(holder.instance, time.monotonic())
        await self._check_lost(station_id)

    async def _check_lost(self, station_id: str) -> None:
        mine = self._mine.get(station_id)
        claim = self._view.get(station_id)
        if mine is None or claim is None or claim.holder.instance == self.me.instance:
            return
        if claim.revision > mine:  # a newer claim than ours: the charger reconnected elsewhere
            del self._mine[station_id]
            await self._on_lost(station_id, claim.holder)

    async def _write_loop(self) -> None:
        assert self._kv is not None
        while True:
            op, station_id = await self._writes.get()
            try:
                await self._write(self._kv, op, station_id)
            except nats.js.errors.BadRequestError as exc:
                # 10071, wrong last sequence: another node claimed it after us; the key is theirs.
                if exc.err_code != 10071:
                    log.warning("station directory: could not %s %s: %r", op, station_id, exc)
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("station directory: could not %s %s: %r", op, station_id, exc)
            except Exception:
                log.exception("station directory: %s of %s failed", op, station_id)
            finally:
                self._writes.task_done()

    async def _write(self, kv: KeyValue, op: Literal["claim", "release"], station_id: str) -> None:
        key = station_token(station_id)
        if op == "claim":
            self._mine[station_id] = await kv.put(key, self.me.encode())
            # The watcher may already have passed a newer claim while we waited for the ack.
            await self._check_lost(station_id)
            return
        revision = self._mine.pop(station_id, None)
        if revision is not None:
            await kv.delete(key, last=revision)

    async def _beat(self) -> None:
        while True:
            try:
                await self._nc.publish(self._subjects.alive, self.me.encode())
            except nats.errors.Error as exc:
                log.debug("heartbeat not sent: %r", exc)
            await asyncio.sleep(self._heartbeat)

    async def _on_alive(self, msg: Msg) -> None:
        with contextlib.suppress(ValueError):
            instance = Holder.decode(msg.data).instance
            if instance not in self._gone:
                self._last_seen[instance] = time.monotonic()

    async def _on_gone(self, msg: Msg) -> None:
        with contextlib.suppress(ValueError):
            instance = Holder.decode(msg.data).instance
            self._gone.add(instance)
            self._last_seen.pop(instance, None)

"""The durable side of the multiplexer: per-upstream outbox and transaction id maps, with group commit.

A billing-relevant charger message (StartTransaction, StopTransaction, MeterValues of a transaction)
is stored for each upstream before the charger gets its answer, and removed once that upstream has
answered it, so it is delivered at least once, in order, across reconnects and restarts. The id map
says which transactionId each upstream gave our transaction; it is written in the same commit that
removes the StartTransaction it was learned from, so a crash in between re-sends the Start rather
than losing the id.

Writes are batched like meter values (core/transactions/meter_writer.py): `append` waits for its
commit, and appends arriving meanwhile share the next one (outbox_store.py writes a batch). Acknowledgements of delivered entries are
not waited for: they ride along with the next append's commit, or are written on their own after
`ack_delay`; on SQLite every extra write transaction contends for the one write lock with the
charger's own writes (and a loser sleeps in SQLite's busy handler), so fewer is faster. If an
acknowledgement is lost in a crash the entry is delivered again, which at-least-once allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from voltbridge.core.clock import Clock
from voltbridge.core.upstreams.outbox_store import Batch, store_for
from voltbridge.core.upstreams.records import OutboxEntry, OutboxMessage, TransactionLink
from voltbridge.store import Database
from voltbridge.store.models.upstreams import UpstreamOutboxEntry, UpstreamTransaction

log = logging.getLogger(__name__)


class OutboxClosed(RuntimeError):
    """Raised by `append` when the outbox writer is not running (before start or after close)."""


@dataclass(slots=True)
class _Append:
    messages: Sequence[OutboxMessage]
    links: Sequence[TransactionLink]
    done: asyncio.Future[list[int]]


@dataclass(slots=True)
class _Ack:
    entry_id: int
    learn: TransactionLink | None = None
    close: tuple[int, int] | None = None  # (upstream_id, our transaction id) whose Stop was answered


@dataclass(slots=True)
class _Barrier:
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


_Op = _Append | _Ack | _Barrier


class OutboxService:
    """Stores, lists and acknowledges outbox entries and id maps; `run` is its commit loop."""

    def __init__(self, db: Database, clock: Clock, *, max_batch: int = 500, ack_delay: float = 0.5) -> None:
        self._db = db
        self._clock = clock
        self._max_batch = max_batch
        self._ack_delay = ack_delay
        self._ops: list[_Op] = []
        self._urgent = 0  # queued appends and barriers: someone waits for them
        self._wake = asyncio.Event()
        self._running = False
        self._closing = False
        self._acking: set[int] = set()
        self._store = store_for(db)
        self.commits = 0

    async def run(self) -> None:
        """Commit queued work in batches until `close` and everything queued before it is written."""
        self._running = True
        self._closing = False
        try:
            while True:
                if not self._ops:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if not self._urgent and not self._closing:
                    await self._let_acknowledgements_wait()
                batch, self._ops = self._ops[: self._max_batch], self._ops[self._max_batch :]
                self._urgent -= sum(1 for op in batch if not isinstance(op, _Ack))
                try:
                    await self._commit(batch)
                except Exception:
                    log.exception("outbox batch of %d failed; writing its parts one by one", len(batch))
                    await self._commit_each(batch)
        finally:
            self._running = False
            await self._store.close()
            leftover, self._ops = self._ops, []
            for op in leftover:
                _fail(op, OutboxClosed("the multiplexer outbox stopped before this was written"))

    async def _let_acknowledgements_wait(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._ack_delay):
                while not self._urgent and not self._closing:
                    self._wake.clear()
                    await self._wake.wait()

    def close(self) -> None:
        """Ask `run` to return once everything queued so far is committed."""
        self._closing = True
        self._wake.set()

    async def append(
        self, messages: Sequence[OutboxMessage], links: Sequence[TransactionLink] = ()
    ) -> list[int]:
        """Store messages (and id links) durably; returns the entries' ids once committed."""
        if not self._running or self._closing:
            raise OutboxClosed("the multiplexer outbox is not running")
        if not messages and not links:
            return []
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._queue(_Append(messages, links, done))
        return await done

    def delivered(
        self, entry_id: int, *, learn: TransactionLink | None = None, close: tuple[int, int] | None = None
    ) -> None:
        """Remove an answered entry (and record the id it taught, or that its transaction ended).

        Not awaited: committed with the next batch.
        """
        self._acking.add(entry_id)
        self._queue(_Ack(entry_id, learn, close))

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        if not self._running:
            return
        barrier = _Barrier()
        self._queue(barrier)
        await barrier.done

    async def pending(self, upstream_id: int) -> list[OutboxEntry]:
        """The upstream's undelivered entries in delivery order (minus those being acknowledged)."""
        query = (
            select(UpstreamOutboxEntry)
            .where(UpstreamOutboxEntry.upstream_id == upstream_id)
            .order_by(UpstreamOutboxEntry.id)
        )
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        return [
            OutboxEntry(r.id, r.upstream_id, r.action, dict(r.payload), r.transaction_id)
            for r in rows
            if r.id not in self._acking
        ]

    async def open_links(self, upstream_id: int) -> list[TransactionLink]:
        """The id map of the upstream's transactions that have not stopped yet."""
        query = select(UpstreamTransaction).where(
            UpstreamTransaction.upstream_id == upstream_id, UpstreamTransaction.open.is_(True)
        )
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        return [TransactionLink(r.upstream_id, r.transaction_id, r.their_transaction_id) for r in rows]

    async def backlogged(self) -> list[int]:
        """Ids of upstreams that have undelivered entries."""
        async with self._db.read() as session:
            rows = await session.scalars(select(UpstreamOutboxEntry.upstream_id).distinct())
            return sorted(rows.all())

    async def depth(self, upstream_id: int) -> int:
        """How many entries wait for the upstream."""
        async with self._db.read() as session:
            count = await session.scalar(
                select(func.count()).where(UpstreamOutboxEntry.upstream_id == upstream_id)
            )
            return int(count or 0)

    def _queue(self, op: _Op) -> None:
        self._ops.append(op)
        if not isinstance(op, _Ack):
            self._urgent += 1
        self._wake.set()

    async def _commit(self, batch: list[_Op]) -> None:
        appends = [op for op in batch if isinstance(op, _Append)]
        acks = [op for op in batch if isinstance(op, _Ack)]
        plan = Batch(
            rows=[m for op in appends for m in op.messages],
            delivered=[op.entry_id for op in acks],
            links=[link for op in appends for link in op.links] + [op.learn for op in acks if op.learn],
            closed=[op.close for op in acks if op.close is not None],
        )
        ids: list[int] = []
        if plan.rows or plan.delivered or plan.links or plan.closed:
            ids = await self._store.write(plan, self._clock.now())
            self.commits += 1
        position = 0
        for append in appends:
            _resolve(append, ids[position : position + len(append.messages)])
            position += len(append.messages)
        for ack in acks:
            self._acking.discard(ack.entry_id)
        for op in batch:
            if isinstance(op, _Barrier) and not op.done.done():
                op.done.set_result(None)

    async def _commit_each(self, batch: list[_Op]) -> None:
        # One broken part (e.g. an upstream deleted a moment ago) must not fail the others.
        for op in batch:
            try:
                await self._commit([op])
            except Exception as exc:
                log.warning("outbox write failed: %r", exc)
                _fail(op, exc)
                if isinstance(op, _Ack):
                    self._acking.discard(op.entry_id)


def _resolve(op: _Append, ids: list[int]) -> None:
    if not op.done.done():
        op.done.set_result(ids)


def _fail(op: _Op, exc: BaseException) -> None:
    if isinstance(op, _Append | _Barrier) and not op.done.done():
        op.done.set_exception(exc)

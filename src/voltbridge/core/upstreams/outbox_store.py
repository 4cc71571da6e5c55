"""How one outbox batch is written: one transaction, in the cheapest way each backend allows.

The outbox write is on the charger's answer path, so it is measured (bench/multiplexer.py):

- SQLite: the batch goes to a dedicated thread with its own connection, where BEGIN IMMEDIATE, one
  multi-row INSERT … RETURNING, one DELETE and COMMIT are a single hop. Through aiosqlite each
  statement is a hop of its own, and every hop is a GIL hand-over that the event loop waits for;
  through SQLAlchemy's ORM, RETURNING is even sent one row at a time (8 ms for 30 rows).
  One INSERT assigns rowids in the order of its VALUES, so the returned ids sorted are the rows'.
- PostgreSQL: SQLAlchemy Core on the async engine; asyncpg is native asyncio and SQLAlchemy's
  ordered RETURNING batches the rows.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import orjson
from sqlalchemy import delete, insert, update
from sqlalchemy.engine import make_url

from voltbridge.core.upstreams.records import OutboxMessage, TransactionLink
from voltbridge.store import Database
from voltbridge.store.models.upstreams import UpstreamOutboxEntry, UpstreamTransaction
from voltbridge.store.sqlite_meter import tune

# Five parameters a row; SQLite allows 32766 parameters a statement (since 3.32), 999 before.
ROWS_PER_INSERT = 150
IDS_PER_DELETE = 900


@dataclass(slots=True)
class Batch:
    """Everything one commit writes."""

    rows: list[OutboxMessage] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    links: list[TransactionLink] = field(default_factory=list)
    closed: list[tuple[int, int]] = field(default_factory=list)  # (upstream_id, our transaction id)


class BatchStore(Protocol):
    async def write(self, batch: Batch, now: datetime) -> list[int]:
        """Commit the batch; returns the new rows' ids in the order of `batch.rows`."""
        ...

    async def close(self) -> None: ...


def store_for(db: Database) -> BatchStore:
    """The fastest store for the database (a SQLite file gets its own writer thread)."""
    if db.is_sqlite:
        path = make_url(db.url).database
        if path and path != ":memory:":
            return SqliteBatchStore(path)
    return CoreBatchStore(db)


class SqliteBatchStore:
    """Writes batches through one sqlite3 connection on one thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._inserts: dict[int, str] = {}

    async def write(self, batch: Batch, now: datetime) -> list[int]:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-sqlite")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._write, batch, now)

    async def close(self) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._disconnect)
            self._thread.shutdown(wait=True)
            self._thread = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
            tune(conn.cursor())
            conn.execute("PRAGMA foreign_keys=ON")  # an upstream deleted meanwhile takes no new rows
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _insert_sql(self, count: int) -> str:
        sql = self._inserts.get(count)
        if sql is None:
            values = ", ".join(["(?, ?, ?, ?, ?)"] * count)
            sql = (
                "INSERT INTO upstream_outbox (upstream_id, action, payload, transaction_id, created_at) "
                f"VALUES {values} RETURNING id"
            )
            self._inserts[count] = sql
        return sql

    def _write(self, batch: Batch, now: datetime) -> list[int]:
        conn = self._connect()
        at = _sqlite_time(now)
        ids: list[int] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(batch.rows), ROWS_PER_INSERT):
                chunk = batch.rows[start : start + ROWS_PER_INSERT]
                params: list[object] = []
                for row in chunk:
                    params += (
                        row.upstream_id,
                        row.action,
                        orjson.dumps(row.payload).decode(),
                        row.transaction_id,
                        at,
                    )
                ids += sorted(r[0] for r in conn.execute(self._insert_sql(len(chunk)), params))
            for start in range(0, len(batch.delivered), IDS_PER_DELETE):
                chunk_ids = batch.delivered[start : start + IDS_PER_DELETE]
                marks = ", ".join("?" * len(chunk_ids))
                conn.execute(f"DELETE FROM upstream_outbox WHERE id IN ({marks})", chunk_ids)
            for link in batch.links:
                conn.execute(
                    "DELETE FROM upstream_transactions WHERE upstream_id = ? AND transaction_id = ?",
                    (link.upstream_id, link.transaction_id),
                )
                conn.execute(
                    "INSERT INTO upstream_transactions "
                    "(upstream_id, transaction_id, their_transaction_id, open, created_at) VALUES (?, ?, ?, 1, ?)",
                    (link.upstream_id, link.transaction_id, link.their_transaction_id, at),
                )
            for upstream_id, transaction_id in batch.closed:
                conn.execute(
                    "UPDATE upstream_transactions SET open = 0, closed_at = ? "
                    "WHERE upstream_id = ? AND transaction_id = ?",
                    (at, upstream_id, transaction_id),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return ids


class CoreBatchStore:
    """Writes batches with SQLAlchemy Core on the async engine (PostgreSQL, in-memory SQLite)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def write(self, batch: Batch, now: datetime) -> list[int]:
        ids: list[int] = []
        async with self._db.engine.begin() as conn:
            if batch.rows:
                rows = [
                    {
                        "upstream_id": r.upstream_id,
                        "action": r.action,
                        "payload": r.payload,
                        "transaction_id": r.transaction_id,
                        "created_at": now,
                    }
                    for r in batch.rows
                ]
                statement = insert(UpstreamOutboxEntry).returning(
                    UpstreamOutboxEntry.id, sort_by_parameter_order=True
                )
                ids = list((await conn.execute(statement, rows)).scalars().all())
            if batch.delivered:
                await conn.execute(
                    delete(UpstreamOutboxEntry).where(UpstreamOutboxEntry.id.in_(batch.delivered))
                )
            for link in batch.links:
                await conn.execute(
                    delete(UpstreamTransaction).where(
                        UpstreamTransaction.upstream_id == link.upstream_id,
                        UpstreamTransaction.transaction_id == link.transaction_id,
                    )
                )
                await conn.execute(
                    insert(UpstreamTransaction).values(
                        upstream_id=link.upstream_id,
                        transaction_id=link.transaction_id,
                        their_transaction_id=link.their_transaction_id,
                        open=True,
                        created_at=now,
                    )
                )
            for upstream_id, transaction_id in batch.closed:
                await conn.execute(
                    update(UpstreamTransaction)
                    .where(
                        UpstreamTransaction.upstream_id == upstream_id,
                        UpstreamTransaction.transaction_id == transaction_id,
                    )
                    .values(open=False, closed_at=now)
                )
        return ids

    async def close(self) -> None:
        return None


def _sqlite_time(value: datetime) -> str:
    # How SQLAlchemy's DateTime stores a value on SQLite (UTCDateTime keeps it naive UTC), so the
    # ORM reads these rows back like its own.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

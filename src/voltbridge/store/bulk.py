"""Bulk writes for the meter-value stream, at the driver level.

The ORM costs tens of microseconds per row; the meter stream is tens of thousands of rows a second.
These statements go to the driver's executemany with values already in the column's storage form,
so they must stay in step with the table definitions (the tests read the rows back through the ORM).
"""

from __future__ import annotations

import asyncio
import json
import logging
import marshal
import sys
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy.engine import make_url

from voltbridge.store import sqlite_meter
from voltbridge.store.db import Database
from voltbridge.store.sqlite_meter import METER_COLUMNS, PLAIN

log = logging.getLogger(__name__)

_PADDING = (None, None, None)  # a plain row's last three columns, in a batch that needs all twelve


def _placeholders(paramstyle: str, count: int, start: int = 1) -> list[str]:
    if paramstyle == "qmark":
        return ["?"] * count
    if paramstyle == "numeric_dollar":
        return [f"${i}" for i in range(start, start + count)]
    if paramstyle in ("format", "pyformat"):
        return ["%s"] * count
    raise NotImplementedError(f"paramstyle {paramstyle!r}")


def _sqlite_time(value: datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime writes, so ORM equality and ordering keep working.
    # (%-formatting the fields is about twice as fast as replace(tzinfo=None).isoformat(...), and
    # several times faster than strftime: this runs for every meter-value message.)
    u = value.astimezone(UTC)
    return _SQLITE_TIME % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)


_SQLITE_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


SampleRow = tuple[datetime, str, str | None, str | None, float | None, str, str | None, str | None,
                  dict[str, Any] | None]  # fmt: skip
"""A sampled value in the order of core/metering.Sample: at, measurand, context, unit, value, raw, phase,
location, signed. The fields after `at` are stored as they are, `signed` as JSON text."""
MeterMessage = tuple[str, int, int | None, Sequence[SampleRow]]
"""The sampled values of one message, with their station id, connector id and transaction id."""
RegisterUpdate = tuple[int, int, datetime]  # transaction id, register Wh, reading time


class BulkWriter:
    """Driver-level INSERT/UPDATE statements for the meter stream, one commit per call.

    On SQLite the writes go to a child process with its own connection (`store/sqlite_meter.py`):
    a batch is one message there and one answer back, and neither its work nor its wait for the
    write lock holds the GIL the event loop needs. On PostgreSQL asyncpg is native asyncio already.
    """

    def __init__(self, db: Database) -> None:
        dialect = db.engine.dialect
        self._db = db
        self._child = _SqliteChild(_sqlite_path(db.url)) if db.is_sqlite else None
        self._tasks: set[asyncio.Task[None]] = set()  # PostgreSQL batches on their way
        self._time: Callable[[datetime], object] = _sqlite_time if db.is_sqlite else _naive_utc
        self._columns = ", ".join(METER_COLUMNS)
        marks = _placeholders(dialect.paramstyle, len(METER_COLUMNS))
        plain = [*marks[:PLAIN], *["NULL"] * (len(METER_COLUMNS) - PLAIN)]
        self._row_marks = {True: f"({', '.join(plain)})", False: f"({', '.join(marks)})"}
        wh, at, tx, at2 = _placeholders(dialect.paramstyle, 4)
        self._update = (
            f"UPDATE transactions SET last_meter_wh = {wh}, last_meter_at = {at} "
            f"WHERE id = {tx} AND (last_meter_at IS NULL OR last_meter_at <= {at2})"
        )

    async def submit(
        self, messages: Sequence[MeterMessage], registers: Sequence[RegisterUpdate], committed: Committed
    ) -> int:
        """Send the messages' meter rows, and the transactions' last register readings (which never
        move back), on their way as one transaction; returns the number of rows.

        `committed` is called with None once they are committed, or with the error. On SQLite it is
        called straight from the child's answer arriving, without a task switch in between: every
        charger of the batch waits for it.
        """
        times: dict[datetime, object] = {}  # reading time -> its stored form, for this batch
        plain, params = _meter_params(messages, self._time, times)
        updates: list[tuple[object, ...]] = []
        # In transaction order: two batches on their way at once then lock their rows in the same
        # order (PostgreSQL would otherwise find them deadlocked and fail one).
        for tx, wh, at in sorted(registers):
            stored = times.get(at)
            if stored is None:
                stored = self._time(at)
            updates.append((wh, stored, tx))
        if self._child is not None:
            await self._child.send(sqlite_meter.frame((plain, params, updates)), committed)
        else:
            task = asyncio.create_task(self._write_postgres(plain, params, updates, committed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(params)

    async def _write_postgres(
        self,
        plain: bool,
        params: Sequence[tuple[object, ...]],
        updates: Sequence[tuple[object, ...]],
        committed: Committed,
    ) -> None:
        try:
            async with self._db.engine.begin() as conn:
                if params:
                    marks = self._row_marks[plain]
                    insert = f"INSERT INTO meter_values ({self._columns}) VALUES {marks}"
                    await conn.exec_driver_sql(insert, params)
                if updates:
                    await conn.exec_driver_sql(self._update, [(wh, at, tx, at) for wh, at, tx in updates])
        except Exception as exc:
            committed(exc)
        else:
            committed(None)

    async def close(self) -> None:
        """Wait for what is on its way, then end the SQLite child."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._child is not None:
            await self._child.close()


Committed = Callable[[BaseException | None], None]


class MeterWriteFailed(RuntimeError):
    """The SQLite child could not commit a batch (the batch is rolled back), or it is gone."""


class _SqliteChild:
    """The child process that writes the meter stream to SQLite: started on the first write, and
    again after one died (the batches it held fail, so their chargers are not told they are stored)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._current: _Child | None = None
        self._starting = asyncio.Lock()

    async def send(self, request: bytes, committed: Committed) -> None:
        child = self._current
        if child is None or not child.alive:
            child = await self._start()
        child.send(request, committed)

    async def _start(self) -> _Child:
        async with self._starting:  # concurrent first writes start one child, not one each
            if self._current is None or not self._current.alive:
                await self.close()
                loop = asyncio.get_running_loop()
                _, child = await loop.subprocess_exec(
                    _Child,
                    sys.executable,
                    sqlite_meter.__file__,
                    self._path,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=None,
                    start_new_session=True,  # a terminal's Ctrl-C is for the parent, which flushes through it
                )
                self._current = child
            return self._current

    async def close(self) -> None:
        child, self._current = self._current, None
        if child is not None:
            await child.close()


class _Child(asyncio.SubprocessProtocol):
    """One running child, and the answers it owes, in the order the batches were sent. Answers are
    handled as their bytes arrive (a protocol, not a reader task: one task switch less per batch)."""

    def __init__(self) -> None:
        self._transport: asyncio.SubprocessTransport | None = None
        self._buffer = bytearray()
        self._owed: deque[Committed] = deque()
        self._exited = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.SubprocessTransport, transport)

    @property
    def alive(self) -> bool:
        return not self._exited.done() and self._stdin is not None and not self._stdin.is_closing()

    @property
    def _stdin(self) -> asyncio.WriteTransport | None:
        if self._transport is None:
            return None
        return cast(asyncio.WriteTransport | None, self._transport.get_pipe_transport(0))

    def send(self, request: bytes, committed: Committed) -> None:
        stdin = self._stdin
        if stdin is None or stdin.is_closing():
            committed(MeterWriteFailed("the SQLite meter writer process is closing"))
            return
        self._owed.append(committed)
        try:
            stdin.write(request)
        except Exception:
            self._owed.pop()  # not sent: the caller hears of it from the raise, not from an answer
            raise

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 4:
            end = 4 + int.from_bytes(buffer[:4], "big")
            if len(buffer) < end:
                return
            error = marshal.loads(bytes(buffer[4:end]))
            del buffer[:end]
            self._answer(None if error is None else MeterWriteFailed(str(error)))

    def process_exited(self) -> None:
        while self._owed:
            self._answer(MeterWriteFailed("the SQLite meter writer process ended"))
        if not self._exited.done():
            self._exited.set_result(None)

    def _answer(self, error: BaseException | None) -> None:
        committed = self._owed.popleft()
        try:
            committed(error)
        except Exception:
            log.exception("a meter batch's commit callback failed")

    async def close(self, patience: float = 60.0) -> None:
        """Let the child commit what it was sent, then end it (it ends when its stdin closes)."""
        assert self._transport is not None
        stdin = self._stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._exited), patience)
        except TimeoutError:
            log.error("the SQLite meter writer did not finish within %.0f s; killed", patience)
            self._transport.kill()
            await self._exited
        self._transport.close()


def _sqlite_path(url: str) -> str:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("the meter writer needs a SQLite file, not an in-memory database")
    return database


def _meter_params(
    messages: Sequence[MeterMessage], convert: Callable[[datetime], object], times: dict[datetime, object]
) -> tuple[bool, list[tuple[object, ...]]]:
    """The INSERT parameters of every sampled value, in the order of METER_COLUMNS, and whether they
    are all plain (no phase, location or signed data: then each row has the first nine columns only).

    Each reading time is converted once (`times` keeps them): the values of one meterValue entry
    share one datetime object, and a register update's time is one of theirs.
    """
    params: list[tuple[object, ...]] = []
    add = params.append
    plain = True
    for station_id, connector_id, transaction_id, samples in messages:
        at: datetime | None = None
        head: tuple[object, ...] = ()
        for sample in samples:
            if sample[0] is not at:
                at = sample[0]
                stored = times.get(at)
                if stored is None:
                    stored = times[at] = convert(at)
                head = (station_id, connector_id, transaction_id, stored)
            signed = sample[8]
            if sample[6] is None and sample[7] is None and signed is None:
                add(head + sample[1:6])
            else:
                plain = False
                add(head + sample[1:8] + (None if signed is None else json.dumps(signed),))
    if not plain:
        params = [row if len(row) > PLAIN else row + _PADDING for row in params]
    return plain, params

"""Bulk writes for the meter-value stream, at the driver level.

The ORM costs tens of microseconds per row; the meter stream is tens of thousands of rows a second.
These statements go to the driver's executemany with values already in the column's storage form,
so they must stay in step with the table definitions (the tests read the rows back through the ORM).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from voltbridge.store.db import Database

_METER_COLUMNS = (
    "station_id",
    "connector_id",
    "transaction_id",
    "at",
    "measurand",
    "context",
    "unit",
    "value",
    "raw",
    # Most rows have none of these: a batch without any is inserted with NULL in the statement.
    "phase",
    "location",
    "signed",
)
_PLAIN = 9  # the columns a row without phase, location or signed data binds
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

    On SQLite the writes go through a dedicated thread with its own connection: a batch is one hop
    to that thread (BEGIN, two executemany, COMMIT), where going through aiosqlite would be a hop per
    statement, each costing a GIL hand-over. On PostgreSQL asyncpg is native asyncio already.
    """

    def __init__(self, db: Database) -> None:
        dialect = db.engine.dialect
        self._db = db
        self._sqlite_path = _sqlite_path(db.url) if db.is_sqlite else None
        self._time: Callable[[datetime], object] = _sqlite_time if db.is_sqlite else _naive_utc
        self._columns = ", ".join(_METER_COLUMNS)
        marks = _placeholders(dialect.paramstyle, len(_METER_COLUMNS))
        # Binding None costs the sqlite3 module an adapter lookup per value (about as much as the
        # rest of the row): the NULLs most rows have are written into the statement instead.
        plain = [*marks[:_PLAIN], *["NULL"] * (len(_METER_COLUMNS) - _PLAIN)]
        self._row_marks = {True: f"({', '.join(plain)})", False: f"({', '.join(marks)})"}
        wh, at, tx, at2 = _placeholders(dialect.paramstyle, 4)
        self._update = (
            f"UPDATE transactions SET last_meter_wh = {wh}, last_meter_at = {at} "
            f"WHERE id = {tx} AND (last_meter_at IS NULL OR last_meter_at <= {at2})"
        )
        self._thread: ThreadPoolExecutor | None = None
        self._sqlite: sqlite3.Connection | None = None

    async def write(self, messages: Sequence[MeterMessage], registers: Sequence[RegisterUpdate]) -> int:
        """Insert the messages' meter rows and move transactions' last register reading forward (never
        back); returns the number of rows inserted."""
        times: dict[datetime, object] = {}  # reading time -> its stored form, for this batch
        plain, params = _meter_params(messages, self._time, times)
        updates: list[tuple[object, ...]] = []
        for tx, wh, at in registers:
            stored = times.get(at)
            if stored is None:
                stored = self._time(at)
            updates.append((wh, stored, tx, stored))
        if self._sqlite_path is not None:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meter-sqlite")
            await asyncio.get_running_loop().run_in_executor(
                self._thread, self._write_sqlite, plain, params, updates
            )
            return len(params)
        async with self._db.engine.begin() as conn:
            if params:
                await conn.exec_driver_sql(self._insert_rows(plain, 1), params)
            if updates:
                await conn.exec_driver_sql(self._update, updates)
        return len(params)

    def _write_sqlite(
        self, plain: bool, params: Sequence[tuple[object, ...]], updates: Sequence[tuple[object, ...]]
    ) -> None:
        if self._sqlite is None:
            assert self._sqlite_path is not None
            # No busy timeout: SQLite's own handler sleeps up to 100 ms between tries, and every
            # charger waiting for this commit would wait that long; _begin retries sooner.
            self._sqlite = sqlite3.connect(self._sqlite_path, timeout=0, isolation_level=None)
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA synchronous=NORMAL")
        conn = self._sqlite
        _begin(conn)
        try:
            start = 0
            for size in _chunks(len(params)):
                # One multi-row INSERT is one sqlite3_step, so the GIL is released once per chunk
                # rather than once per row (executemany), which the event loop's thread would feel.
                values = [value for row in params[start : start + size] for value in row]
                conn.execute(self._insert_rows(plain, size), values)
                start += size
            start = 0
            for size in _chunks(len(updates)):
                values = [value for row in updates[start : start + size] for value in row[:3]]
                conn.execute(_update_rows(size), values)
                start += size
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _insert_rows(self, plain: bool, rows: int) -> str:
        # Few distinct sizes (see _chunks), so the driver's statement cache keeps them prepared.
        marks = ", ".join([self._row_marks[plain]] * rows)
        return f"INSERT INTO meter_values ({self._columns}) VALUES {marks}"

    async def close(self) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_sqlite)
            self._thread.shutdown(wait=True)
            self._thread = None

    def _close_sqlite(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None


_LARGEST_CHUNK = 256  # rows per INSERT: 3,072 parameters, well under SQLite's 32,766


def _chunks(rows: int) -> list[int]:
    """Split a row count into INSERT sizes: full chunks, then the remainder in powers of two."""
    sizes = [_LARGEST_CHUNK] * (rows // _LARGEST_CHUNK)
    rest = rows % _LARGEST_CHUNK
    size = _LARGEST_CHUNK // 2
    while rest:
        if rest >= size:
            sizes.append(size)
            rest -= size
        size //= 2
    return sizes


def _update_rows(rows: int) -> str:
    # UPDATE ... FROM (SQLite 3.33+): every transaction's register in one statement, never backwards.
    values = ", ".join(["(?, ?, ?)"] * rows)
    return (
        "UPDATE transactions SET last_meter_wh = v.column1, last_meter_at = v.column2 "
        f"FROM (VALUES {values}) AS v WHERE transactions.id = v.column3 "
        "AND (transactions.last_meter_at IS NULL OR transactions.last_meter_at <= v.column2)"
    )


def _begin(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """BEGIN IMMEDIATE, retrying every few hundred microseconds while another writer holds the lock."""
    deadline = time.monotonic() + patience
    pause = 0.0002
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.002)


def _sqlite_path(url: str) -> str:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("the meter writer needs a SQLite file, not an in-memory database")
    return database


def _meter_params(
    messages: Sequence[MeterMessage], convert: Callable[[datetime], object], times: dict[datetime, object]
) -> tuple[bool, list[tuple[object, ...]]]:
    """The INSERT parameters of every sampled value, in the order of _METER_COLUMNS, and whether they
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
        params = [row if len(row) > _PLAIN else row + _PADDING for row in params]
    return plain, params

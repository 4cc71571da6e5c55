"""Bulk writes for the meter-value stream, at the driver level.

The ORM costs tens of microseconds per row; the meter stream is tens of thousands of rows a second.
These statements go to the driver's executemany with values already in the column's storage form,
so they must stay in step with the table definitions (the tests read the rows back through the ORM).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
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
    "phase",
    "location",
    "context",
    "unit",
    "value",
    "raw",
    "signed",
)


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
    # (isoformat with a fixed timespec is several times faster than strftime on this hot path.)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


MeterRow = tuple[str, int, int | None, datetime, str, str | None, str | None, str | None, str | None,
                 float | None, str, dict[str, Any] | None]  # fmt: skip
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
        marks = ", ".join(_placeholders(dialect.paramstyle, len(_METER_COLUMNS)))
        self._insert = f"INSERT INTO meter_values ({', '.join(_METER_COLUMNS)}) VALUES ({marks})"
        wh, at, tx, at2 = _placeholders(dialect.paramstyle, 4)
        self._update = (
            f"UPDATE transactions SET last_meter_wh = {wh}, last_meter_at = {at} "
            f"WHERE id = {tx} AND (last_meter_at IS NULL OR last_meter_at <= {at2})"
        )
        self._thread: ThreadPoolExecutor | None = None
        self._sqlite: sqlite3.Connection | None = None

    async def write(self, rows: Sequence[MeterRow], registers: Sequence[RegisterUpdate]) -> None:
        """Insert meter rows and move transactions' last register reading forward (never back)."""
        t = _memoised(self._time)  # the values of one message share a timestamp
        params = [
            (*row[:3], t(row[3]), *row[4:11], json.dumps(row[11]) if row[11] is not None else None)
            for row in rows
        ]
        updates = [(wh, t(at), tx, t(at)) for tx, wh, at in registers]
        if self._sqlite_path is not None:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meter-sqlite")
            await asyncio.get_running_loop().run_in_executor(
                self._thread, self._write_sqlite, params, updates
            )
            return
        async with self._db.engine.begin() as conn:
            if params:
                await conn.exec_driver_sql(self._insert, params)
            if updates:
                await conn.exec_driver_sql(self._update, updates)

    def _write_sqlite(
        self, params: Sequence[tuple[object, ...]], updates: Sequence[tuple[object, ...]]
    ) -> None:
        if self._sqlite is None:
            assert self._sqlite_path is not None
            self._sqlite = sqlite3.connect(self._sqlite_path, timeout=30, isolation_level=None)
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA synchronous=NORMAL")
            self._sqlite.execute("PRAGMA busy_timeout=30000")
        conn = self._sqlite
        conn.execute("BEGIN IMMEDIATE")
        try:
            if params:
                conn.executemany(self._insert, params)
            if updates:
                conn.executemany(self._update, updates)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_sqlite)
            self._thread.shutdown(wait=True)
            self._thread = None

    def _close_sqlite(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None


def _sqlite_path(url: str) -> str:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("the meter writer needs a SQLite file, not an in-memory database")
    return database


def _memoised(convert: Callable[[datetime], object]) -> Callable[[datetime], object]:
    seen: dict[datetime, object] = {}

    def converted(value: datetime) -> object:
        found = seen.get(value)
        if found is None:
            found = seen[value] = convert(value)
        return found

    return converted

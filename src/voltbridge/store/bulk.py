"""Bulk writes for the meter-value stream, at the driver level.

The ORM costs tens of microseconds per row; the meter stream is tens of thousands of rows a second.
These statements go to the driver's executemany with values already in the column's storage form,
so they must stay in step with the table definitions (the tests read the rows back through the ORM).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

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
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


MeterRow = tuple[str, int, int | None, datetime, str, str | None, str | None, str | None, str | None,
                 float | None, str, dict[str, Any] | None]  # fmt: skip
RegisterUpdate = tuple[int, int, datetime]  # transaction id, register Wh, reading time


class BulkWriter:
    """Driver-level INSERT/UPDATE statements for one database dialect."""

    def __init__(self, dialect_name: str, paramstyle: str) -> None:
        self._time: Callable[[datetime], object] = _sqlite_time if dialect_name == "sqlite" else _naive_utc
        marks = ", ".join(_placeholders(paramstyle, len(_METER_COLUMNS)))
        self._insert = f"INSERT INTO meter_values ({', '.join(_METER_COLUMNS)}) VALUES ({marks})"
        wh, at, tx, at2 = _placeholders(paramstyle, 4)
        self._update = (
            f"UPDATE transactions SET last_meter_wh = {wh}, last_meter_at = {at} "
            f"WHERE id = {tx} AND (last_meter_at IS NULL OR last_meter_at <= {at2})"
        )

    async def write(
        self, conn: AsyncConnection, rows: Sequence[MeterRow], registers: Sequence[RegisterUpdate]
    ) -> None:
        """Insert meter rows and move transactions' last register reading forward (never back)."""
        t = self._time
        params = [
            (*row[:3], t(row[3]), *row[4:11], json.dumps(row[11]) if row[11] is not None else None)
            for row in rows
        ]
        if params:
            await conn.exec_driver_sql(self._insert, params)
        if registers:
            updates = [(wh, t(at), tx, t(at)) for tx, wh, at in registers]
            await conn.exec_driver_sql(self._update, updates)

"""The meter writer's SQLite child process: it commits what it is sent, reports what it could not
commit, and a child that dies fails only the batches it held; the next write starts another. And on
both backends, a stopping server commits what is on its way."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import AppFactory
from voltbridge.app import App
from voltbridge.core.metering import Sample
from voltbridge.store import Database
from voltbridge.store.bulk import BulkWriter, MeterMessage, MeterWriteFailed
from voltbridge.store.models import MeterValue

AT = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def message(station_id: str, wh: int) -> MeterMessage:
    register = Sample(AT, "Energy.Active.Import.Register", None, "Wh", float(wh), str(wh), None, None, None)
    power = Sample(AT, "Power.Active.Import", None, "W", 7200.0, "7200", "L1", None, None)
    return (station_id, 1, None, [register, power])


@pytest.fixture
async def sqlite_file(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[tuple[Database, Path]]:
    path = tmp_path / "voltbridge.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    yield db, path
    await db.close()


def rows(path: Path) -> list[tuple[str, str, float]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT station_id, measurand, value FROM meter_values ORDER BY id").fetchall()


async def write(writer: BulkWriter, messages: list[MeterMessage]) -> int:
    """Submit the messages; return their row count once committed (raise what failed them)."""
    committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def settle(error: BaseException | None) -> None:
        if error is None:
            committed.set_result(None)
        else:
            committed.set_exception(error)

    rows = await writer.submit(messages, [], settle)
    await committed
    return rows


def writers_of(path: Path) -> list[int]:
    """The pids of this process's children that write to `path`."""
    me = os.getpid()
    children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
    return [int(c) for c in children if str(path) in Path(f"/proc/{c}/cmdline").read_text()]


def child_pid(writer: BulkWriter) -> int:
    child = writer._child._current  # type: ignore[union-attr]
    assert child is not None and child._transport is not None
    return child._transport.get_pid()


async def test_concurrent_writes_share_one_child_and_close_commits_them(
    sqlite_file: tuple[Database, Path],
) -> None:
    db, path = sqlite_file
    writer = BulkWriter(db)
    written = await asyncio.gather(*(write(writer, [message(f"CP{i}", i)]) for i in range(20)))
    assert written == [2] * 20
    assert writers_of(path) == [child_pid(writer)]
    await writer.close()
    assert len(rows(path)) == 40
    assert {r[0] for r in rows(path)} == {f"CP{i}" for i in range(20)}


async def test_a_batch_the_database_refuses_fails_alone(sqlite_file: tuple[Database, Path]) -> None:
    db, path = sqlite_file
    writer = BulkWriter(db)
    await write(writer, [message("CP-1", 1)])
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE meter_values RENAME TO meter_values_away")
    with pytest.raises(MeterWriteFailed, match="no such table"):
        await write(writer, [message("CP-1", 2)])
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE meter_values_away RENAME TO meter_values")
    await write(writer, [message("CP-1", 3)])  # the same child goes on
    await writer.close()
    assert [r[2] for r in rows(path) if r[1].startswith("Energy")] == [1.0, 3.0]


async def test_a_child_that_dies_fails_what_it_held_and_the_next_write_starts_another(
    sqlite_file: tuple[Database, Path],
) -> None:
    db, path = sqlite_file
    writer = BulkWriter(db)
    await write(writer, [message("CP-1", 1)])
    first = child_pid(writer)
    os.kill(first, signal.SIGSTOP)  # the batch below is sent but never committed
    held = asyncio.create_task(write(writer, [message("CP-1", 2)]))
    await asyncio.sleep(0.1)
    assert not held.done()
    os.kill(first, signal.SIGKILL)
    with pytest.raises(MeterWriteFailed, match="ended"):
        await held
    await write(writer, [message("CP-1", 3)])
    assert child_pid(writer) != first
    await writer.close()
    assert [r[2] for r in rows(path) if r[1].startswith("Energy")] == [1.0, 3.0]


async def test_values_on_their_way_when_the_server_stops_are_committed(make_app: AppFactory) -> None:
    """A stopping server commits what the meter writer holds (on SQLite, through the child)."""
    app = await make_app(http=False)
    samples = [Sample(AT, "Energy.Active.Import.Register", None, "Wh", 1.0, "1", None, None, None)] * 2
    writes = [asyncio.create_task(app.meter_writer.write("CP-1", 1, None, samples)) for _ in range(300)]
    await asyncio.sleep(0)  # every write is queued, most not yet sent
    assert app.meter_writer.depth > 0
    await app.stop()
    await asyncio.gather(*writes)  # none failed
    reopened = App.build(app.settings)
    async with reopened.db.read() as session:
        stored = await session.scalar(select(func.count()).select_from(MeterValue))
    await reopened.db.close()
    assert stored == 600

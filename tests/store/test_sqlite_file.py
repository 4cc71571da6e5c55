"""How the SQLite file is set up: a new file gets small pages (the meter stream writes one index page
per message), and every connection checkpoints by bytes, the meter writer first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from voltbridge.store import sqlite_meter
from voltbridge.store.migrate import upgrade
from voltbridge.store.sqlite_meter import CHECKPOINT_BYTES, PAGE_SIZE


def settings(conn: sqlite3.Connection) -> tuple[int, int, str]:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    checkpoint = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    return page_size, checkpoint, conn.execute("PRAGMA journal_mode").fetchone()[0]


async def test_a_migrated_new_file_has_small_pages_and_the_writer_checkpoints_first(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    await upgrade(f"sqlite+aiosqlite:///{path}")
    writer = sqlite_meter.connect(str(path))
    other = sqlite3.connect(path)
    sqlite_meter.tune(other.cursor())
    assert settings(writer) == (PAGE_SIZE, CHECKPOINT_BYTES // PAGE_SIZE, "wal")
    assert settings(other) == (PAGE_SIZE, 2 * CHECKPOINT_BYTES // PAGE_SIZE, "wal")
    writer.close()
    other.close()


def test_an_existing_file_keeps_its_page_size_and_checkpoints_by_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("PRAGMA page_size=4096")
        old.execute("CREATE TABLE t (x)")
    writer = sqlite_meter.connect(str(path))
    assert settings(writer) == (4096, CHECKPOINT_BYTES // 4096, "wal")
    writer.close()

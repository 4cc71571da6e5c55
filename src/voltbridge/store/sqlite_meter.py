"""The meter stream's SQLite writes, run in a child process of their own.

In a thread, this work and its waits competed with the event loop for the GIL: every statement's
return had to win the GIL back from the busy loop, and a batch's wall time (which every charger in it
waits for) came out two to three times its CPU time. A child process has its own interpreter.

The parent (`store/bulk.py`) starts it as a script, `python sqlite_meter.py DB_PATH`, so it imports
only the standard library. Each request on stdin and each answer on stdout is a 4-byte big-endian
length and a `marshal` body (plain values only: str, int, float, None, tuples and lists, which marshal
reads without running code). A request is `(plain, rows, updates)`; the answer is None once committed,
or the error's text after a rollback. The child ends when its stdin closes, so it never outlives the
parent; it ignores SIGINT and SIGTERM, which reach a whole process group, so a stopping parent can
still flush through it.

`tune` is here too, so that the child can use it without importing the package: the settings every
connection to the database file takes (page size of a new file, WAL, checkpoint interval).
"""

from __future__ import annotations

import marshal
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from typing import Any, BinaryIO

METER_COLUMNS = (
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
PLAIN = 9  # the columns a row without phase, location or signed data binds

_LARGEST_CHUNK = 256  # rows per INSERT: 3,072 parameters, well under SQLite's 32,766
_COLUMNS = ", ".join(METER_COLUMNS)
# Binding None costs the sqlite3 module an adapter lookup per value (about as much as the rest of
# the row): the NULLs most rows have are written into the statement instead.
_ROW = {
    True: "(" + ", ".join(["?"] * PLAIN + ["NULL"] * (len(METER_COLUMNS) - PLAIN)) + ")",
    False: "(" + ", ".join(["?"] * len(METER_COLUMNS)) + ")",
}


def chunks(rows: int) -> list[int]:
    """Split a row count into statement sizes: full chunks, then the remainder in powers of two (few
    distinct sizes, so the driver's statement cache keeps them prepared)."""
    sizes = [_LARGEST_CHUNK] * (rows // _LARGEST_CHUNK)
    rest = rows % _LARGEST_CHUNK
    size = _LARGEST_CHUNK // 2
    while rest:
        if rest >= size:
            sizes.append(size)
            rest -= size
        size //= 2
    return sizes


def insert_rows(plain: bool, rows: int) -> str:
    return f"INSERT INTO meter_values ({_COLUMNS}) VALUES {', '.join([_ROW[plain]] * rows)}"


def update_rows(rows: int) -> str:
    # UPDATE ... FROM (SQLite 3.33+): every transaction's register in one statement, never backwards.
    values = ", ".join(["(?, ?, ?)"] * rows)
    return (
        "UPDATE transactions SET last_meter_wh = v.column1, last_meter_at = v.column2 "
        f"FROM (VALUES {values}) AS v WHERE transactions.id = v.column3 "
        "AND (transactions.last_meter_at IS NULL OR transactions.last_meter_at <= v.column2)"
    )


def begin(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """BEGIN IMMEDIATE, retrying every few hundred microseconds while another writer holds the lock
    (SQLite's own busy handler sleeps up to 100 ms between tries, and every charger waits for this)."""
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


# The page size of a new database file (SQLite's default: 4096; an existing file keeps its own).
# Each meter commit writes the last page of the (transaction, time) index of every session in it,
# one page per message, and most of the meter writer's time went to writing those pages: with
# 1 KB pages the stream's rate rose 6-12 % (docs/performance.md).
PAGE_SIZE = 1024
# WAL bytes after which this writer's commit copies the WAL into the database (SQLite's default:
# 1000 pages). A longer WAL holds many copies of the same hot pages, and a checkpoint writes each
# only once: 16 MB gave ~9 % more than 4 MB, for a p99 ~7 ms longer (the rarer checkpoint's stall).
# The other connections to the file (the ORM's, the multiplexer's outbox) wait for twice as much,
# so they checkpoint only while this writer is not running (it starts with the first meter value).
CHECKPOINT_BYTES = 16 << 20


def tune(cursor: Any, *, meter_writer: bool = False) -> None:
    """The settings of every connection to the database file (`cursor` of a DB-API connection)."""
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")  # before WAL: it only applies to a new file
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a power cut loses the last commits
    cursor.execute("PRAGMA page_size")
    page_size = cursor.fetchone()[0]
    share = 1 if meter_writer else 2
    cursor.execute(f"PRAGMA wal_autocheckpoint={share * CHECKPOINT_BYTES // page_size}")


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    tune(conn.cursor(), meter_writer=True)
    return conn


def write(
    conn: sqlite3.Connection,
    plain: bool,
    rows: Sequence[Sequence[object]],
    updates: Sequence[Sequence[object]],
) -> None:
    """Insert the meter rows and move the transactions' registers (wh, at, id) in one transaction."""
    begin(conn)
    try:
        start = 0
        for size in chunks(len(rows)):
            # One multi-row INSERT is one sqlite3_step, instead of a step per row (executemany).
            conn.execute(insert_rows(plain, size), [v for row in rows[start : start + size] for v in row])
            start += size
        start = 0
        for size in chunks(len(updates)):
            conn.execute(update_rows(size), [v for row in updates[start : start + size] for v in row])
            start += size
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def frame(value: Any) -> bytes:
    body = marshal.dumps(value)
    return len(body).to_bytes(4, "big") + body


def _read(stream: BinaryIO) -> Any:
    header = stream.read(4)
    if len(header) < 4:
        return None
    body = stream.read(int.from_bytes(header, "big"))
    return marshal.loads(body)


def serve(path: str, requests: BinaryIO, answers: BinaryIO) -> None:
    conn = connect(path)
    try:
        while (request := _read(requests)) is not None:
            plain, rows, updates = request
            try:
                write(conn, plain, rows, updates)
                answer = None
            except Exception as exc:  # answered, not raised: the parent decides what a failure means
                answer = f"{type(exc).__name__}: {exc}"
            answers.write(frame(answer))
            answers.flush()
    finally:
        conn.close()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)

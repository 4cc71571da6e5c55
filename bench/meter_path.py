"""The MeterValues path in-process: handler, TransactionService, MeterWriter, BulkWriter, SQLite.

    .venv/bin/python bench/meter_path.py [--messages 20000] [--chargers 50] [--rounds 3]

No sockets and no JSON: each charger is a task handing already-decoded MeterValues payloads (a
register, power, current and voltage, as bench/_support.py sends) to the 1.6 handler, one after the
other, so group commit batches them as it does under load. The database is a real, migrated SQLite
file and the bus a real LocalBus. Prints CPU microseconds per message, for the whole process (the
SQLite writer process included) and for the event loop's thread alone, and the rows persisted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from bench._support import tree_cpu_seconds  # noqa: E402
from voltbridge.bus import LocalBus  # noqa: E402
from voltbridge.core.authorization import AuthorizationService  # noqa: E402
from voltbridge.core.clock import SystemClock  # noqa: E402
from voltbridge.core.stations.service import StationService, UnknownStationPolicy  # noqa: E402
from voltbridge.core.tokens.service import IdTagInfo, TokenService  # noqa: E402
from voltbridge.core.transactions.meter_writer import MeterWriter  # noqa: E402
from voltbridge.core.transactions.service import StartRequest, TransactionService  # noqa: E402
from voltbridge.ocpp.connection import Connection  # noqa: E402
from voltbridge.ocpp.services import GatewayServices  # noqa: E402
from voltbridge.ocpp.v16.handlers import Ocpp16Handlers  # noqa: E402
from voltbridge.store import Database, upgrade  # noqa: E402

Payload = dict[str, Any]
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class _Station:
    """All the handler reads from its connection."""

    station_id: str


@dataclass
class Round:
    messages: int
    process_cpu: float
    loop_cpu: float
    wall: float
    commits: int

    def us(self, seconds: float) -> float:
        return seconds / self.messages * 1e6


def meter_values(transaction_id: int, n: int) -> Payload:
    """The n-th MeterValues of a session, as the gateway hands it to the handler (decoded JSON).

    Sessions' clocks differ by some milliseconds, as real chargers' do: no two messages share a time.
    """
    at = START + timedelta(seconds=n, milliseconds=transaction_id * 7)
    at_text = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": at_text,
                "sampledValue": [
                    {"value": str(n * 10), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": "31.3", "measurand": "Current.Import", "unit": "A"},
                    {"value": "230.1", "measurand": "Voltage", "unit": "V"},
                ],
            }
        ],
    }


class Bench:
    def __init__(self, path: Path, chargers: int) -> None:
        self.url = f"sqlite+aiosqlite:///{path}"
        self.path = path
        self.chargers = chargers
        self.db = Database(self.url)
        self.bus = LocalBus()
        clock = SystemClock()
        self.writer = MeterWriter(self.db)
        self.stations = StationService(
            self.db,
            self.bus,
            clock,
            unknown_stations=UnknownStationPolicy.ACCEPT,
            heartbeat_interval=300,
            pending_interval=60,
        )
        self.transactions = TransactionService(self.db, self.bus, clock, self.writer)
        authorization = AuthorizationService(TokenService(self.db, clock), authority_timeout=1.0)
        self.handlers = Ocpp16Handlers(
            GatewayServices(self.stations, self.transactions, authorization, clock)
        )
        self.sessions: list[tuple[Connection, int]] = []
        self.sent = 0  # messages per charger so far

    async def start(self) -> None:
        await upgrade(self.url)
        await self.bus.start()
        await self.writer.start()

        async def accepted() -> IdTagInfo:
            return IdTagInfo("Accepted")

        for i in range(self.chargers):
            station_id = f"BENCH-{i:04d}"
            await self.stations.register(station_id)
            started = await self.transactions.start(StartRequest(station_id, 1, "BENCH", 0, START), accepted)
            conn = cast(Connection, _Station(station_id))
            self.sessions.append((conn, started.transaction.id))

    async def close(self) -> None:
        await self.writer.close()
        await self.bus.close()
        await self.db.close()

    async def round(self, per_charger: int) -> Round:
        """Each charger sends `per_charger` MeterValues back to back; payloads are built beforehand."""
        first = self.sent + 1
        self.sent += per_charger
        work = [
            (conn, [meter_values(tx, n) for n in range(first, first + per_charger)])
            for conn, tx in self.sessions
        ]

        async def charger(conn: Connection, payloads: list[Payload]) -> None:
            handle = self.handlers.meter_values
            for p in payloads:
                await handle(conn, p)

        commits = self.writer.batches
        wall = time.perf_counter()
        process = tree_cpu_seconds(os.getpid())
        loop = time.thread_time()
        await asyncio.gather(*(charger(conn, payloads) for conn, payloads in work))
        return Round(
            messages=per_charger * len(work),
            process_cpu=tree_cpu_seconds(os.getpid()) - process,
            loop_cpu=time.thread_time() - loop,
            wall=time.perf_counter() - wall,
            commits=self.writer.batches - commits,
        )

    def check(self) -> int:
        """Rows persisted; fails if a row or a session's last register is missing."""
        with sqlite3.connect(self.path) as conn:
            rows: int = conn.execute("SELECT count(*) FROM meter_values").fetchone()[0]
            registers = conn.execute("SELECT last_meter_wh FROM transactions").fetchall()
        expected = self.sent * 4 * self.chargers
        if rows != expected:
            raise SystemExit(f"{rows} meter rows persisted, expected {expected}")
        if any(wh != self.sent * 10 for (wh,) in registers):
            raise SystemExit(f"last registers {sorted(set(registers))}, expected {self.sent * 10}")
        return rows


async def main(messages: int, chargers: int, rounds: int) -> None:
    per_charger = max(1, messages // chargers)
    with tempfile.TemporaryDirectory(prefix="meter-path-") as tmp:
        bench = Bench(Path(tmp) / "voltbridge.db", chargers)
        await bench.start()
        try:
            await bench.round(max(1, per_charger // 10))  # warm-up: caches, statement preparation
            results = [await bench.round(per_charger) for _ in range(rounds)]
        finally:
            await bench.close()
        rows = bench.check()
    for i, r in enumerate(results, 1):
        print(
            f"round {i}: {r.messages} messages, {r.us(r.process_cpu):.1f} µs CPU/message (process), "
            f"{r.us(r.loop_cpu):.1f} µs (event loop thread), {r.messages / r.wall:,.0f} messages/s wall, "
            f"{r.messages / r.commits:.1f} messages per commit"
        )
    best = min(results, key=lambda r: r.loop_cpu / r.messages)
    median_process = statistics.median(r.us(r.process_cpu) for r in results)
    median_loop = statistics.median(r.us(r.loop_cpu) for r in results)
    print(
        f"median: {median_process:.1f} µs CPU/message (process), {median_loop:.1f} µs (event loop thread); "
        f"best loop {best.us(best.loop_cpu):.1f} µs; {rows} rows persisted"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000, help="MeterValues per round")
    parser.add_argument("--chargers", type=int, default=50, help="concurrent chargers")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--asyncio", action="store_true", help="plain asyncio instead of uvloop")
    args = parser.parse_args()
    if not args.asyncio:
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # uvloop is a dev dependency; the server uses it when installed
            pass
    asyncio.run(main(args.messages, args.chargers, args.rounds))

"""OCPP 1.6 throughput: voltbridge (persisting on SQLite) against a minimal `ocpp`-package central system.

    .venv/bin/python bench/ocpp_throughput.py [--chargers 50] [--seconds 10] [--settle 3] [--idle 10000]

Each server runs in its own process; the simulated chargers run in this process (a lean client that
sends prepared frames, so the client is not what is measured). Prints, for each server: MeterValues
per second answered (and, for voltbridge, persisted: rows counted in the database afterwards), answer
latency p50/p99, and for voltbridge the server's RSS per idle connected charger.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from bench._support import (  # noqa: E402
    cpu_seconds,
    hold_idle,
    rss_bytes,
    run_load,
    tree_cpu_seconds,
    use_uvloop,
)


class ServerProcess:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_servers.py"), *args], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


async def measure_load(
    server: ServerProcess, chargers: int, seconds: float, settle: float
) -> tuple[dict[str, float], datetime | None]:
    """Steady-state load figures, plus the server's CPU time per answered message (robust to a busy
    machine). The CPU clock starts `settle` seconds after every charger is in a transaction."""
    await run_load(server.url, chargers, min(2.0, seconds), prefix="WARM")  # warm-up: connections, caches
    pid = server.process.pid
    cpu_before = loop_before = 0.0

    def started() -> None:
        nonlocal cpu_before, loop_before
        cpu_before, loop_before = tree_cpu_seconds(pid), cpu_seconds(pid, thread=pid)

    result = await run_load(server.url, chargers, seconds, settle=settle, on_start=started)
    cpu, loop = tree_cpu_seconds(pid) - cpu_before, cpu_seconds(pid, thread=pid) - loop_before
    figures = result.summary()
    figures["server_cpu_us_per_msg"] = round(cpu / result.answered * 1e6)
    # How busy the event loop's thread was, and everything else of the server (its other threads and
    # its SQLite writer process), in cores: a loop thread well under 1.0 means it waits, not computes.
    figures["loop_thread_cores"] = round(loop / result.seconds, 2)
    figures["other_cores"] = round((cpu - loop) / result.seconds, 2)
    figures["seconds"] = result.seconds
    return figures, result.measured_from


async def measure_idle(server: ServerProcess, count: int) -> float:
    before = rss_bytes(server.process.pid)
    ready, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold_idle(server.url, count, ready, release))
    await ready.wait()
    await asyncio.sleep(2)  # let the server finish its per-connection bookkeeping before reading RSS
    after = rss_bytes(server.process.pid)
    release.set()
    await holder
    return (after - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--idle", type=int, default=10_000, help="idle chargers for the memory figure (0: skip)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds of load before the clock starts, while the server finishes handling the starts",
    )
    args = parser.parse_args()
    use_uvloop()
    report: dict[str, dict[str, float]] = {}

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        server = ServerProcess("voltbridge", str(db))
        try:
            report["voltbridge"], measured_from = asyncio.run(
                measure_load(server, args.chargers, args.seconds, args.settle)
            )
            if args.idle:
                report["voltbridge"]["rss_kb_per_idle_charger"] = round(
                    asyncio.run(measure_idle(server, args.idle)) / 1024, 1
                )
        finally:
            server.stop()
        # Rows of the measured window only: the warm-up's chargers are excluded by prefix, and the
        # settling seconds by the readings' time (the time each message carries, as SQLite stores it).
        assert measured_from is not None
        with sqlite3.connect(db) as conn:
            measured = conn.execute(
                "SELECT count(*) FROM meter_values WHERE station_id LIKE 'LOAD%' AND at >= ?",
                (measured_from.strftime("%Y-%m-%d %H:%M:%S.%f"),),
            ).fetchone()[0]
        report["voltbridge"]["persisted_meter_values_per_s"] = round(
            measured / 4 / report["voltbridge"]["seconds"]
        )

    minimal = ServerProcess("minimal")
    try:
        report["ocpp package (minimal)"], _ = asyncio.run(
            measure_load(minimal, args.chargers, args.seconds, args.settle)
        )
    finally:
        minimal.stop()

    vb, mini = report["voltbridge"], report["ocpp package (minimal)"]
    ratio = vb["messages_per_s"] / mini["messages_per_s"] if mini["messages_per_s"] else float("inf")
    print(
        f"chargers={args.chargers} seconds={args.seconds} settle={args.settle} idle={args.idle} "
        f"cpus={os.cpu_count()}"
    )
    print(
        f"{'server':28} {'msg/s':>8} {'persisted/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/msg':>11} "
        f"{'KB/idle':>8} {'loop/other cores':>17}"
    )
    for name, figures in report.items():
        print(
            f"{name:28} {figures['messages_per_s']:>8} {figures.get('persisted_meter_values_per_s', '-')!s:>12} "
            f"{figures['p50_ms']:>8} {figures['p99_ms']:>8} {figures['server_cpu_us_per_msg']:>11} "
            f"{figures.get('rss_kb_per_idle_charger', '-')!s:>8} "
            f"{figures['loop_thread_cores']:>8}/{figures['other_cores']:<8}"
        )
    print(f"voltbridge / minimal ocpp central system: {ratio:.1f}x")
    print(
        json.dumps(
            {
                "report": report,
                "ratio": round(ratio, 2),
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )
    )


if __name__ == "__main__":
    main()

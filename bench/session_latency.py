"""How long a charger waits for its session and status answers while others stream meter values.

    .venv/bin/python bench/session_latency.py [--chargers 50] [--sessions 30]

voltbridge runs in its own process on SQLite (as in bench/ocpp_throughput.py). `--chargers`
chargers send MeterValues back to back, as fast as answered; meanwhile one more charger starts a
session, reports Charging and stops, `--sessions` times, 0.2 s apart. These go through the ORM and
share SQLite's one write lock with the meter stream. Prints their answer latencies (p50, p99, max)
and the stream's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._rawclient import RawClient
from bench._support import now_iso, percentile, run_load, split_ws_url, use_uvloop
from bench.ocpp_throughput import ServerProcess


async def sessions(url: str, count: int) -> dict[str, list[float]]:
    host, port, path = split_ws_url(url)
    charger = await RawClient.connect(host, port, f"{path}/PROBE")
    await charger.exchange(
        '[2,"b","BootNotification",{"chargePointVendor":"Bench","chargePointModel":"Probe"}]'
    )
    waits: dict[str, list[float]] = {"StartTransaction": [], "StatusNotification": [], "StopTransaction": []}

    async def timed(action: str, frame: str) -> Any:
        began = time.perf_counter()
        answer = json.loads(await charger.exchange(frame))
        waits[action].append(time.perf_counter() - began)
        return answer

    for i in range(count):
        start = f'{{"connectorId":1,"idTag":"PROBE","meterStart":0,"timestamp":"{now_iso()}"}}'
        answer = await timed("StartTransaction", f'[2,"s{i}","StartTransaction",{start}]')
        tx = answer[2]["transactionId"]
        status = '{"connectorId":1,"errorCode":"NoError","status":"Charging"}'
        await timed("StatusNotification", f'[2,"n{i}","StatusNotification",{status}]')
        stop = f'{{"transactionId":{tx},"meterStop":10,"timestamp":"{now_iso()}"}}'
        await timed("StopTransaction", f'[2,"p{i}","StopTransaction",{stop}]')
        await asyncio.sleep(0.2)
    charger.close()
    return waits


async def measure(url: str, chargers: int, count: int) -> None:
    stream_seconds = 3 + count * 0.35  # long enough to cover every session
    stream = asyncio.create_task(run_load(url, chargers, stream_seconds))
    await asyncio.sleep(2)  # the stream runs before the first session starts
    waits = await sessions(url, count)
    result = await stream
    print(
        f"stream: {chargers} chargers, {result.rate:,.0f} MeterValues/s (p50 {result.summary()['p50_ms']} ms)"
    )
    for action, values in waits.items():
        ms = [v * 1000 for v in values]
        print(
            f"{action:19} p50 {percentile(ms, 50):6.1f} ms   p99 {percentile(ms, 99):6.1f} ms   max {max(ms):6.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=30)
    args = parser.parse_args()
    use_uvloop()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess("voltbridge", str(Path(tmp) / "bench.db"))
        try:
            asyncio.run(measure(server.url, args.chargers, args.sessions))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

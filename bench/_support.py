"""Shared pieces of the benchmarks: a lean load client, latency figures, process memory."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import websockets
from websockets.typing import Subprotocol

OCPP16 = [Subprotocol("ocpp1.6")]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (robust to other load on the machine)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class LoadResult:
    answered: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "messages_per_s": round(self.rate),
            "p50_ms": round(percentile(self.latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(self.latencies, 99) * 1000, 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else float("nan"),
            "errors": self.errors,
        }


def meter_values_frame(unique_id: str, transaction_id: int, register_wh: int) -> str:
    """A typical 1.6 MeterValues: register, power, current and voltage."""
    stamp = now_iso()
    return json.dumps(
        [
            2,
            unique_id,
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [
                    {
                        "timestamp": stamp,
                        "sampledValue": [
                            {
                                "value": str(register_wh),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                            {"value": "31.3", "measurand": "Current.Import", "unit": "A"},
                            {"value": "230.1", "measurand": "Voltage", "unit": "V"},
                        ],
                    }
                ],
            },
        ]
    )


async def _exchange(ws: websockets.ClientConnection, frame: str, unique_id: str) -> list[object]:
    await ws.send(frame)
    while True:
        answer = json.loads(await ws.recv())
        if answer[1] == unique_id:
            return answer  # type: ignore[no-any-return]


async def _charger(
    url: str, station_id: str, deadline: float, result: LoadResult, heartbeat_every: int
) -> None:
    async with websockets.connect(f"{url}/{station_id}", subprotocols=OCPP16, compression=None) as ws:
        boot = json.dumps(
            [2, "b", "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Load"}]
        )
        await _exchange(ws, boot, "b")
        start = json.dumps(
            [
                2,
                "s",
                "StartTransaction",
                {"connectorId": 1, "idTag": "BENCH", "meterStart": 0, "timestamp": now_iso()},
            ]
        )
        answer = await _exchange(ws, start, "s")
        tx = answer[2]["transactionId"] if answer[0] == 3 else 0  # type: ignore[index]
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            uid = str(n)
            if heartbeat_every and n % heartbeat_every == 0:
                frame = json.dumps([2, uid, "Heartbeat", {}])
            else:
                frame = meter_values_frame(uid, tx, n * 10)
            sent = time.perf_counter()
            reply = await _exchange(ws, frame, uid)
            result.latencies.append(time.perf_counter() - sent)
            if reply[0] == 3:
                result.answered += 1
            else:
                result.errors += 1


async def run_load(
    url: str, chargers: int, seconds: float, *, prefix: str = "LOAD", heartbeat_every: int = 10
) -> LoadResult:
    """`chargers` sockets each sending MeterValues (and a Heartbeat now and then) back to back."""
    result = LoadResult()
    begin = time.perf_counter()
    deadline = begin + seconds
    await asyncio.gather(
        *(_charger(url, f"{prefix}{i:05d}", deadline, result, heartbeat_every) for i in range(chargers))
    )
    result.seconds = time.perf_counter() - begin
    return result


async def hold_idle(
    url: str, count: int, ready: asyncio.Event, release: asyncio.Event, *, prefix: str = "IDLE"
) -> int:
    """Open `count` sockets, boot each, signal `ready`, and hold them until `release`."""
    sockets: list[websockets.ClientConnection] = []
    semaphore = asyncio.Semaphore(200)

    async def one(i: int) -> None:
        async with semaphore:
            ws = await websockets.connect(
                f"{url}/{prefix}{i:05d}",
                subprotocols=OCPP16,
                compression=None,
                ping_interval=None,
                open_timeout=60,
            )
            boot = json.dumps(
                [2, "b", "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Idle"}]
            )
            await _exchange(ws, boot, "b")
            sockets.append(ws)

    await asyncio.gather(*(one(i) for i in range(count)))
    ready.set()
    await release.wait()
    for ws in sockets:
        await ws.close()
    return len(sockets)


def use_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dev dependency
        pass


def cpu_count() -> int:
    return os.cpu_count() or 1

"""The multiplexer's cost: a charger's answer latency and messages/s with 0, 1 and 3 upstreams.

    .venv/bin/python bench/multiplexer.py [--chargers 20] [--seconds 10] [--rate 2] [--isolate]

For each upstream count, a fresh voltbridge (SQLite in a temporary folder, default multiplexer
options) runs in its own process, and minimal upstream central systems (they answer every CALL at
once) run in a third process; this process plays the chargers with a lean client (prepared frames).
Every charger first boots and starts a transaction, so each MeterValues carries a transactionId and
takes the durable path (outbox commit before the answer, delivery to every upstream in order).

Two loads per upstream count:
- fixed rate: every charger sends `--rate` MeterValues per second (one in flight); the answer latency
  p50/p99 of the same load is compared across upstream counts (the target: p99 with 3 upstreams
  within 2 ms of none);
- saturation: every charger sends as fast as it is answered; messages/s and latency.
Afterwards the upstreams' counts show that every MeterValues reached every upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))
from bench._support import LoadResult, now_iso, percentile, tree_cpu_seconds, until_terminated  # noqa: E402
from voltbridge.bus import LocalBus  # noqa: E402
from voltbridge.bus.base import E, EventHandler  # noqa: E402

ADMIN_TOKEN = "bench-admin-token"


def _run(coroutine: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


# The upstreams: one process, one port, the path names the upstream (/u0/CP3, /u1/CP3, …).


async def serve_upstreams() -> None:
    import orjson
    import websockets
    from websockets.typing import Subprotocol

    counts: dict[str, int] = {}
    next_id = [100_000]

    def answer(action: str) -> dict[str, Any]:
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": now_iso(), "interval": 300}
        if action == "StartTransaction":
            next_id[0] += 1
            return {"transactionId": next_id[0], "idTagInfo": {"status": "Accepted"}}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "Heartbeat":
            return {"currentTime": now_iso()}
        return {}

    async def handle(ws: Any) -> None:
        upstream = ws.request.path.split("/")[1]
        with contextlib.suppress(websockets.ConnectionClosed):
            async for data in ws:
                frame = orjson.loads(data)
                if frame[0] != 2:
                    continue
                key = f"{upstream}:{frame[2]}"
                counts[key] = counts.get(key, 0) + 1
                await ws.send(orjson.dumps([3, frame[1], answer(frame[2])]).decode())

    async with websockets.serve(
        handle, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")], compression=None, ping_interval=None
    ) as server:
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await until_terminated()
    print(f"COUNTS {json.dumps(counts)}", flush=True)


# voltbridge: registers the stations and their upstreams, then serves OCPP (and the API, to read legs).


async def serve_voltbridge(
    db_path: str, stations: int, upstreams: int, upstream_port: int, isolate: bool
) -> None:
    from voltbridge.app import App
    from voltbridge.config import Settings
    from voltbridge.core.tokens.service import TokenChange
    from voltbridge.core.upstreams import Role, UpstreamSpec

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db_path}",
        host="127.0.0.1",
        ocpp_port=0,
        http_port=0,
        ping_interval=None,
        admin_token=ADMIN_TOKEN,
    )
    # With --isolate, only the multiplexer's own event consumers: billing, OCPI and the like cost
    # CPU per MeterValues that would drown the difference this benchmark is about.
    app = App.build(settings, bus=_ProxyOnlyBus() if isolate else None)
    ports = await app.start(http=True)
    await app.tokens.create("BENCH", TokenChange())
    for n in range(stations):
        await app.stations.register(f"CP{n}")
        for k in range(upstreams):
            role = Role.BILLING if k == 0 else Role.DATA_CONTROL
            url = f"ws://127.0.0.1:{upstream_port}/u{k}"
            await app.upstreams.create(f"CP{n}", UpstreamSpec(url=url, role=role))
    print(f"PORT {ports.ocpp} {ports.http}", flush=True)
    await until_terminated()
    await app.stop()


class _ProxyOnlyBus(LocalBus):
    """A local bus that takes only the multiplexer's subscriptions."""

    def subscribe(
        self, event_type: type[E], handler: EventHandler[E], *, name: str, concurrency: int = 1
    ) -> None:
        if name.startswith("proxy"):
            super().subscribe(event_type, handler, name=name, concurrency=concurrency)


# The chargers.


class Charger:
    def __init__(self, ws: Any, station_id: str) -> None:
        self.ws = ws
        self.station_id = station_id
        self.transaction_id = 0
        self._n = 0

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self._n += 1
        await self.ws.send(json.dumps([2, str(self._n), action, payload]))
        frame = json.loads(await self.ws.recv())
        if frame[0] != 3:
            raise RuntimeError(f"{self.station_id}: {action} answered {frame}")
        answer: dict[str, Any] = frame[2]
        return answer

    def meter_values(self, wh: int) -> str:
        self._n += 1
        sample = {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        payload = {
            "connectorId": 1,
            "transactionId": self.transaction_id,
            "meterValue": [{"timestamp": now_iso(), "sampledValue": [sample]}],
        }
        return json.dumps([2, str(self._n), "MeterValues", payload])


async def connect_chargers(url: str, count: int) -> list[Charger]:
    import websockets
    from websockets.typing import Subprotocol

    chargers = []
    for n in range(count):
        ws = await websockets.connect(
            f"{url}/CP{n}", subprotocols=[Subprotocol("ocpp1.6")], compression=None, ping_interval=None
        )
        charger = Charger(ws, f"CP{n}")
        await charger.call("BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B1"})
        for connector in (0, 1):
            await charger.call(
                "StatusNotification",
                {"connectorId": connector, "errorCode": "NoError", "status": "Available"},
            )
        started = await charger.call(
            "StartTransaction", {"connectorId": 1, "idTag": "BENCH", "meterStart": 0, "timestamp": now_iso()}
        )
        charger.transaction_id = started["transactionId"]
        chargers.append(charger)
    return chargers


async def drive(chargers: list[Charger], seconds: float, rate: float | None) -> LoadResult:
    """Each charger sends MeterValues, one in flight: at `rate` per second each, or as fast as answered."""
    load = LoadResult()
    deadline = time.perf_counter() + seconds

    async def one(charger: Charger) -> None:
        wh = 0
        interval = 1 / rate if rate else 0.0
        next_at = time.perf_counter() + (interval * (hash(charger.station_id) % 100) / 100 if rate else 0.0)
        while True:
            if rate:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += interval
            if time.perf_counter() >= deadline:
                return
            wh += 10
            sent = time.perf_counter()
            await charger.ws.send(charger.meter_values(wh))
            frame = json.loads(await charger.ws.recv())
            load.latencies.append(time.perf_counter() - sent)
            if frame[0] == 3:
                load.answered += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in chargers))
    load.seconds = time.perf_counter() - started
    return load


async def legs_connected(http_port: int, stations: int, upstreams: int, timeout: float = 30.0) -> None:
    import httpx

    if not upstreams:
        return
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}/api/v1", headers=headers) as client:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            states = []
            for n in range(stations):
                page = (await client.get(f"/stations/CP{n}/upstreams")).json()
                states += [u["state"] == "connected" and u["queue_depth"] == 0 for u in page["items"]]
            if all(states) and len(states) == stations * upstreams:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError("the legs did not connect")


async def drained(http_port: int, stations: int) -> dict[str, int]:
    """Wait until every leg has delivered everything; returns summed counters."""
    import httpx

    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}/api/v1", headers=headers) as client:
        for _ in range(300):
            totals = {"queue_depth": 0, "dropped": 0, "reconnects": 0}
            for n in range(stations):
                for u in (await client.get(f"/stations/CP{n}/upstreams")).json()["items"]:
                    for key in totals:
                        totals[key] += u[key]
            if totals["queue_depth"] == 0:
                return totals
            await asyncio.sleep(0.1)
    raise RuntimeError("the legs did not drain")


class Process:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), *args], stdout=subprocess.PIPE, text=True, env={**os.environ}
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "PORT":
            self.stop()
            raise RuntimeError(f"{args[0]} did not start")
        self.ports = [int(p) for p in line[1:]]

    def cpu_seconds(self) -> float:
        """User and system CPU time the process and its SQLite writer have used so far."""
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=60)
        return out or ""


async def scenario(
    upstreams: int, chargers: int, seconds: float, rate: float, folder: str, isolate: bool
) -> dict[str, Any]:
    upstream_process = Process("upstreams")
    voltbridge = Process(
        "voltbridge",
        f"{folder}/u{upstreams}-{isolate}.db",
        str(chargers),
        str(upstreams),
        str(upstream_process.ports[0]),
        "isolate" if isolate else "full",
    )
    ocpp_port, http_port = voltbridge.ports
    try:
        fleet = await connect_chargers(f"ws://127.0.0.1:{ocpp_port}/ocpp", chargers)
        await legs_connected(http_port, chargers, upstreams)
        await drive(fleet, min(2.0, seconds), rate)  # warm-up at the fixed load: no backlog for what follows
        cpu = voltbridge.cpu_seconds()
        steady = await drive(fleet, seconds, rate)
        steady_cpu = voltbridge.cpu_seconds() - cpu
        saturated = await drive(fleet, seconds, None)
        totals = await drained(http_port, chargers) if upstreams else {"dropped": 0, "reconnects": 0}
        for charger in fleet:
            await charger.ws.close()
    finally:
        voltbridge.stop()
        counts_line = [line for line in upstream_process.stop().splitlines() if line.startswith("COUNTS ")]
    counts = json.loads(counts_line[0][7:]) if counts_line else {}
    sent = sum(len(load.latencies) for load in (steady, saturated))
    delivered = [counts.get(f"u{k}:MeterValues", 0) for k in range(upstreams)]
    return {
        "upstreams": upstreams,
        "steady_rate": steady.rate,
        "steady_p50": percentile(steady.latencies, 50) * 1000,
        "steady_p99": percentile(steady.latencies, 99) * 1000,
        "steady_cpu_ms": steady_cpu * 1000 / max(1, len(steady.latencies)),
        "saturated_rate": saturated.rate,
        "saturated_p50": percentile(saturated.latencies, 50) * 1000,
        "saturated_p99": percentile(saturated.latencies, 99) * 1000,
        "sent_measured": sent,
        "delivered_min": min(delivered) if delivered else None,
        "dropped": totals["dropped"],
        "reconnects": totals["reconnects"],
    }


def table(rows: list[dict[str, Any]], chargers: int, rate: float) -> str:
    base = rows[0]
    lines = [
        f"| upstreams | fixed load ({chargers} x {rate:g}/s) msg/s | p50 ms | p99 ms | p99 vs none | "
        "server CPU ms/msg | saturated msg/s | p50 ms | p99 ms | MeterValues each upstream got |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        got = "—" if r["delivered_min"] is None else f"≥ {r['delivered_min']} (dropped {r['dropped']})"
        lines.append(
            f"| {r['upstreams']} | {r['steady_rate']:.0f} | {r['steady_p50']:.2f} | {r['steady_p99']:.2f} | "
            f"{r['steady_p99'] - base['steady_p99']:+.2f} | {r['steady_cpu_ms']:.2f} | {r['saturated_rate']:.0f} | {r['saturated_p50']:.2f} | "
            f"{r['saturated_p99']:.2f} | {got} |"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="vb-bench-mux-") as folder:
        for upstreams in args.upstreams:
            rows.append(
                await scenario(upstreams, args.chargers, args.seconds, args.rate, folder, args.isolate)
            )
            print(f"done: {upstreams} upstream(s)", file=sys.stderr, flush=True)
    print(table(rows, args.chargers, args.rate))
    # Every MeterValues sent after the legs connected (warm-up included) reached every upstream.
    for r in rows[1:]:
        if r["delivered_min"] is not None and r["delivered_min"] < r["sent_measured"]:
            print(f"WARNING: an upstream got fewer MeterValues than were sent ({r})", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "upstreams":
        _run(serve_upstreams())
    elif len(sys.argv) > 1 and sys.argv[1] == "voltbridge":
        _run(
            serve_voltbridge(
                sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "isolate"
            )
        )
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
        parser.add_argument("--chargers", type=int, default=20)
        parser.add_argument("--seconds", type=float, default=10.0)
        parser.add_argument(
            "--rate", type=float, default=2.0, help="MeterValues per second per charger (fixed load)"
        )
        parser.add_argument(
            "--isolate",
            action="store_true",
            help="voltbridge without its other event consumers (billing, OCPI)",
        )
        parser.add_argument("--upstreams", type=int, nargs="+", default=[0, 1, 3])
        _run(main(parser.parse_args()))

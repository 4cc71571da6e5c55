"""Shared pieces of the benchmarks: a lean load client, latency figures, process memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench._rawclient import RawClient, timed


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time a process (or one of its threads) has used so far (robust to other
    load on the machine). A process's main thread has the process's id."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of a process and of its running child processes (voltbridge writes SQLite from a
    child), each child's own children included."""
    total = cpu_seconds(pid)
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children = [int(c) for c in f.read().split()]
        except FileNotFoundError:  # the thread ended
            continue
        for child in children:
            with contextlib.suppress(FileNotFoundError):  # the child ended
                total += tree_cpu_seconds(child)
    return total


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
    connect_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    measured_from: datetime | None = None  # wall clock (UTC) when the measured window began

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
            "connect_s": round(self.connect_seconds, 2),
        }


def meter_values_frame(unique_id: str, transaction_id: int, register_wh: int) -> str:
    """A typical 1.6 MeterValues: register, power, current and voltage (built without json.dumps)."""
    return (
        f'[2,"{unique_id}","MeterValues",{{"connectorId":1,"transactionId":{transaction_id},'
        f'"meterValue":[{{"timestamp":"{now_iso()}","sampledValue":['
        f'{{"value":"{register_wh}","measurand":"Energy.Active.Import.Register","unit":"Wh"}},'
        '{"value":"7200","measurand":"Power.Active.Import","unit":"W"},'
        '{"value":"31.3","measurand":"Current.Import","unit":"A"},'
        '{"value":"230.1","measurand":"Voltage","unit":"V"}]}]}]'
    )


async def _session(url: str, station_id: str) -> tuple[RawClient, int]:
    """Connect, boot and start a transaction; returns the socket and the transaction id."""
    host, port, path = split_ws_url(url)
    client = await RawClient.connect(host, port, f"{path}/{station_id}")
    boot = '[2,"b","BootNotification",{"chargePointVendor":"Bench","chargePointModel":"Load"}]'
    await client.exchange(boot)
    start = f'[2,"s","StartTransaction",{{"connectorId":1,"idTag":"BENCH","meterStart":0,"timestamp":"{now_iso()}"}}]'
    answer = json.loads(await client.exchange(start))
    return client, answer[2]["transactionId"] if answer[0] == 3 else 0


async def _drive(
    client: RawClient, tx: int, window: tuple[float, float], result: LoadResult, heartbeat_every: int
) -> None:
    """Exchange messages until the window's end; count those sent within it."""
    start, deadline = window
    n = 0
    while (sent := time.perf_counter()) < deadline:
        n += 1
        uid = str(n)
        if heartbeat_every and n % heartbeat_every == 0:
            frame = f'[2,"{uid}","Heartbeat",{{}}]'
        else:
            frame = meter_values_frame(uid, tx, n * 10)
        reply, latency = await timed(client, frame)
        if sent < start:
            continue
        result.latencies.append(latency)
        if reply.startswith(f'[3,"{uid}"'):
            result.answered += 1
        else:
            result.errors += 1


async def run_load(
    url: str,
    chargers: int,
    seconds: float,
    *,
    prefix: str = "LOAD",
    heartbeat_every: int = 10,
    settle: float = 0.0,
    on_start: Callable[[], object] | None = None,
) -> LoadResult:
    """`chargers` sockets each sending MeterValues (and a Heartbeat now and then) back to back.

    Every charger first connects, boots and starts a transaction. The chargers then send for
    `settle` seconds that are not counted (the server is still handling their starts), and the
    clock (and `on_start`) starts: the figures are the steady state. `connect_seconds` says how
    long getting to the first message took.
    """
    result = LoadResult()
    began = time.perf_counter()
    sessions = await asyncio.gather(*(_session(url, f"{prefix}{i:05d}") for i in range(chargers)))
    result.connect_seconds = time.perf_counter() - began

    begin = time.perf_counter() + settle
    result.measured_from = datetime.now(UTC) + timedelta(seconds=settle)
    window = (begin, begin + seconds)
    if on_start is not None:
        asyncio.get_running_loop().call_later(settle, on_start)
    try:
        await asyncio.gather(
            *(_drive(client, tx, window, result, heartbeat_every) for client, tx in sessions)
        )
    finally:
        for client, _ in sessions:
            client.close()
    result.seconds = time.perf_counter() - begin
    return result


def split_ws_url(url: str) -> tuple[str, int, str]:
    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, _, port = host_port.partition(":")
    return host, int(port), f"/{path}"


async def hold_idle(
    url: str, count: int, ready: asyncio.Event, release: asyncio.Event, *, prefix: str = "IDLE"
) -> int:
    """Open `count` sockets, boot each, signal `ready`, and hold them until `release`."""
    host, port, path = split_ws_url(url)
    clients: list[RawClient] = []
    semaphore = asyncio.Semaphore(200)
    boot = '[2,"b","BootNotification",{"chargePointVendor":"Bench","chargePointModel":"Idle"}]'

    async def one(i: int) -> None:
        async with semaphore:
            client = await RawClient.connect(host, port, f"{path}/{prefix}{i:05d}")
            await client.exchange(boot)
            clients.append(client)

    await asyncio.gather(*(one(i) for i in range(count)))
    ready.set()
    await release.wait()
    for client in clients:
        client.close()
    return len(clients)


async def until_terminated() -> None:
    """Wait for SIGTERM or SIGINT (the benchmark's servers run until told to stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()


def use_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dev dependency
        pass

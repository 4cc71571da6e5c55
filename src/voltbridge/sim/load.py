"""Load mode: a charger sends MeterValues back-to-back and records how long each answer takes."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed

from voltbridge.sim.charger import SimulatedCharger
from voltbridge.sim.errors import SimError
from voltbridge.sim.latency import LatencyHistogram


@dataclass(frozen=True, slots=True)
class FloodResult:
    """What one charger's load run did."""

    calls: int
    """CALLs answered with a CALLRESULT."""
    failures: int
    """CALLs that failed: CALLERROR, no answer in time, or the connection dropped."""
    seconds: float
    latency: LatencyHistogram
    """Answer latency of each answered CALL of the run."""


async def flood(
    charger: SimulatedCharger,
    seconds: float,
    *,
    heartbeat_every: int = 10,
    stop: asyncio.Event | None = None,
) -> FloodResult:
    """Send MeterValues for ``seconds`` (or until ``stop`` is set), each as soon as the last is answered.

    Every ``heartbeat_every``-th call is a Heartbeat instead (0: none). The MeterValues belong to a
    transaction on connector 1, started first if none runs and ended afterwards, so the backend
    writes them as it would a real session's. The charger must be running (``run``); while it is
    not booted the run waits, and a lost connection counts as a failure.
    """
    histogram = LatencyHistogram()
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + seconds
    calls = failures = sent = 0
    tx = charger.station.active_transaction(1)
    if tx is None and charger.booted:
        with contextlib.suppress(SimError, ConnectionClosed):
            tx = await charger.start_session(1)
    while (remaining := deadline - loop.time()) > 0 and not (stop is not None and stop.is_set()):
        if not charger.booted:
            with contextlib.suppress(TimeoutError):
                await charger.wait_for(lambda c: c.booted, remaining)
            continue
        sent += 1
        try:
            if heartbeat_every and sent % heartbeat_every == 0:
                await charger.call(call.Heartbeat(), latency=histogram)
            else:
                await charger.send_meter_values(1, "Sample.Periodic", latency=histogram)
            calls += 1
        except (SimError, ConnectionClosed):
            failures += 1
    elapsed = loop.time() - started
    if tx is not None and tx.active:
        with contextlib.suppress(SimError, ConnectionClosed):
            await charger.stop_session(tx.connector_id, "Local")
    return FloodResult(calls, failures, elapsed, histogram)

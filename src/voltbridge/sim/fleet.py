"""Many simulated chargers against one backend: a site in use, or a load benchmark.

``run_fleet`` starts the chargers at ``connect_rate`` per second and then either lets them live
their sessions until ``duration`` passes (or ``stop`` is set, or the run is cancelled), or, in load
mode, waits for them to boot and has each send MeterValues back-to-back for ``duration`` seconds.
Either way it ends the running sessions with StopTransaction before it disconnects, so a backend is
not left with transactions that never end, and returns what happened as ``FleetStats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich.console import Console

from voltbridge.sim.charger import SimulatedCharger
from voltbridge.sim.config import FleetConfig, FleetMode
from voltbridge.sim.display import FleetDisplay, take_snapshot
from voltbridge.sim.latency import LatencyHistogram, LatencySummary
from voltbridge.sim.load import FloodResult, flood

log = logging.getLogger(__name__)

# How long the chargers get to end their sessions when the fleet stops.
STOP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class FleetStats:
    """What a fleet run did. In load mode, ``calls``, ``failures`` and ``latency`` cover the load phase."""

    mode: FleetMode
    stations: int
    seconds: float
    """How long the measured part ran: the whole run, or the load phase."""
    connected: int
    """Chargers connected when the run ended."""
    booted: int
    """Chargers that booted at least once."""
    sessions_started: int
    sessions_completed: int
    """Sessions whose StopTransaction the backend answered."""
    calls: int
    """CALLs the backend answered."""
    failures: int
    """CALLs answered with a CALLERROR, not answered in time, or lost with their connection."""
    commands: int
    """Commands from the backend that the chargers answered."""
    errors: int
    messages_per_second: float
    """Answered CALLs per second of ``seconds``."""
    latency: LatencySummary
    last_error: str | None


async def run_fleet(
    config: FleetConfig,
    *,
    progress: bool,
    stop: asyncio.Event | None = None,
    console: Console | None = None,
) -> FleetStats:
    """Run ``config.stations`` simulated chargers against ``config.url`` and report what happened.

    ``progress`` shows a Rich live view (on ``console``). The run ends after ``config.duration``
    seconds, when ``stop`` is set, or when cancelled; in every case running sessions are ended
    properly first (a cancelled run then re-raises CancelledError instead of returning).
    """
    chargers = build_chargers(config)
    loop = asyncio.get_running_loop()
    started = loop.time()
    stop = stop if stop is not None else asyncio.Event()
    results: list[FloodResult] = []
    load_seconds = 0.0
    connected = 0
    async with asyncio.TaskGroup() as tasks:
        runs: list[asyncio.Task[None]] = []
        display = None
        if progress:
            title = f"voltbridge sim: {config.stations} chargers, {config.mode} mode, {config.url}"
            view = FleetDisplay(chargers, title=title, console=console)
            display = tasks.create_task(view.run(config.refresh_interval))
        try:
            await _start(chargers, runs, tasks, config.connect_rate, stop)
            if config.mode == "load":
                load_started = loop.time()
                results = await _load(config, chargers, stop)
                load_seconds = loop.time() - load_started
            else:
                remaining = None if config.duration is None else config.duration - (loop.time() - started)
                await _until(stop, remaining)
            connected = sum(1 for c in chargers if c.connected)
        finally:
            # Runs on cancellation too: end the sessions while the connections are still up.
            await asyncio.gather(*(c.stop(timeout=STOP_TIMEOUT) for c in chargers), return_exceptions=True)
            for run in runs:
                run.cancel()
            if display is not None:
                display.cancel()
    return _stats(config, chargers, results, connected, loop.time() - started, load_seconds)


def build_chargers(config: FleetConfig) -> list[SimulatedCharger]:
    """The chargers of a fleet, not yet running. Load mode turns automatic sessions off."""
    charger_config = config.charger
    if config.mode == "load":
        charger_config = replace(charger_config, auto_sessions=False, session_duration=None)
    return [
        SimulatedCharger(
            station_id, config.url, password=config.password, ssl=config.ssl, config=charger_config
        )
        for station_id in config.station_ids()
    ]


async def _start(
    chargers: Sequence[SimulatedCharger],
    runs: list[asyncio.Task[None]],
    tasks: asyncio.TaskGroup,
    rate: float | None,
    stop: asyncio.Event,
) -> None:
    for index, charger in enumerate(chargers):
        if stop.is_set():
            return
        runs.append(tasks.create_task(_keep_running(charger), name=f"charger {charger.station_id}"))
        # Spread the connects: a backend meets a whole site coming back after a power cut only rarely.
        if rate is not None and index + 1 < len(chargers):
            await _until(stop, 1.0 / rate)


async def _keep_running(charger: SimulatedCharger) -> None:
    try:
        await charger.run()
    except Exception:
        # One charger's bug must not end the others' run; it shows in the log and the counts.
        log.exception("simulated charger %s stopped", charger.station_id)


async def _load(
    config: FleetConfig, chargers: Sequence[SimulatedCharger], stop: asyncio.Event
) -> list[FloodResult]:
    assert config.duration is not None, "FleetConfig requires a duration in load mode"
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(config.boot_timeout):
            await asyncio.gather(*(c.wait_for(lambda c: c.booted, config.boot_timeout) for c in chargers))
    ready = [c for c in chargers if c.booted]
    if len(ready) < len(chargers):
        log.warning("load run: %d of %d chargers booted in time", len(ready), len(chargers))
    return list(
        await asyncio.gather(
            *(
                flood(c, config.duration, heartbeat_every=config.load_heartbeat_every, stop=stop)
                for c in ready
            )
        )
    )


async def _until(stop: asyncio.Event, seconds: float | None) -> None:
    """Wait ``seconds`` (None: for ever) or until ``stop`` is set."""
    if seconds is not None and seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


def _stats(
    config: FleetConfig,
    chargers: Sequence[SimulatedCharger],
    results: Sequence[FloodResult],
    connected: int,
    seconds: float,
    load_seconds: float,
) -> FleetStats:
    snapshot = take_snapshot(chargers)
    if config.mode == "load":
        latency = LatencyHistogram()
        for result in results:
            latency.merge(result.latency)
        calls = sum(r.calls for r in results)
        failures = sum(r.failures for r in results)
        seconds = load_seconds
    else:
        latency = LatencyHistogram()
        for charger in chargers:
            latency.merge(charger.latency)
        calls, failures = snapshot.calls, snapshot.failures
    return FleetStats(
        mode=config.mode,
        stations=len(chargers),
        seconds=seconds,
        connected=connected,
        booted=sum(1 for c in chargers if c.boot_count > 0),
        sessions_started=sum(len(c.transactions) for c in chargers),
        sessions_completed=sum(1 for c in chargers for tx in c.transactions if tx.stop_sent),
        calls=calls,
        failures=failures,
        commands=snapshot.commands,
        errors=snapshot.errors,
        messages_per_second=calls / seconds if seconds > 0 else 0.0,
        latency=latency.summary(),
        last_error=snapshot.last_error,
    )

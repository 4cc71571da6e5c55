"""What a running fleet looks like: a snapshot of its chargers, and its Rich rendering."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from voltbridge.sim.charger import SimulatedCharger
from voltbridge.sim.latency import LatencyHistogram, LatencySummary


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """The state of a fleet at one moment."""

    at: float
    """Event-loop time of the snapshot."""
    stations: int
    connected: int
    booted: int
    sessions_active: int
    sessions_done: int
    calls: int
    """CALLs answered by the backend."""
    failures: int
    """CALLs answered with a CALLERROR or not at all."""
    commands: int
    """Commands of the backend the chargers answered."""
    errors: int
    last_error: str | None
    latency: LatencySummary


def take_snapshot(chargers: Sequence[SimulatedCharger]) -> FleetSnapshot:
    """Count what the chargers are doing now."""
    latency = LatencyHistogram()
    last_error: str | None = None
    for charger in chargers:
        latency.merge(charger.latency)
        last_error = charger.last_error or last_error
    return FleetSnapshot(
        at=asyncio.get_running_loop().time(),
        stations=len(chargers),
        connected=sum(1 for c in chargers if c.connected),
        booted=sum(1 for c in chargers if c.booted),
        sessions_active=sum(len(c.active_transactions) for c in chargers),
        sessions_done=sum(1 for c in chargers for tx in c.transactions if not tx.active),
        calls=sum(c.counters.answered.total() for c in chargers),
        failures=sum(c.counters.failed.total() for c in chargers),
        commands=sum(c.counters.replied.total() for c in chargers),
        errors=sum(c.errors for c in chargers),
        last_error=last_error,
        latency=latency.summary(),
    )


def milliseconds(seconds: float) -> str:
    """A latency for people: ``"3.2 ms"``."""
    return f"{seconds * 1000:.1f} ms"


def render(snapshot: FleetSnapshot, *, rate: float, title: str) -> Group:
    """The live view: one row of figures and the most recent error."""
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("stations", "connected", "booted", "sessions active", "sessions done", "msg/s", "calls"):
        table.add_column(column, justify="right")
    table.add_column("failed", justify="right", style="red")
    table.add_column("errors", justify="right", style="red")
    table.add_column("p50", justify="right")
    table.add_column("p99", justify="right")
    table.add_row(
        str(snapshot.stations),
        str(snapshot.connected),
        str(snapshot.booted),
        str(snapshot.sessions_active),
        str(snapshot.sessions_done),
        f"{rate:.0f}",
        str(snapshot.calls),
        str(snapshot.failures),
        str(snapshot.errors),
        milliseconds(snapshot.latency.p50),
        milliseconds(snapshot.latency.p99),
    )
    last = Text(f"last error: {snapshot.last_error}" if snapshot.last_error else "", style="dim red")
    return Group(table, last)


class FleetDisplay:
    """A Rich live view of a fleet, refreshed until cancelled."""

    def __init__(
        self, chargers: Sequence[SimulatedCharger], *, title: str, console: Console | None = None
    ) -> None:
        self._chargers = chargers
        self._title = title
        self._console = console if console is not None else Console()

    async def run(self, interval: float) -> None:
        """Refresh every ``interval`` seconds until cancelled; messages per second are per refresh."""
        previous = take_snapshot(self._chargers)
        with Live(
            render(previous, rate=0.0, title=self._title),
            console=self._console,
            auto_refresh=False,
            transient=False,
        ) as live:
            try:
                while True:
                    await asyncio.sleep(interval)
                    current = take_snapshot(self._chargers)
                    elapsed = current.at - previous.at
                    rate = (current.calls - previous.calls) / elapsed if elapsed > 0 else 0.0
                    live.update(render(current, rate=rate, title=self._title), refresh=True)
                    previous = current
            finally:
                live.update(render(take_snapshot(self._chargers), rate=0.0, title=self._title), refresh=True)

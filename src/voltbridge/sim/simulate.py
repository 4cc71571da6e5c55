"""The entry point the CLI calls: ``voltbridge simulate`` is ``main(url, stations, …)``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl

from rich.console import Console
from rich.table import Table

from voltbridge.sim.config import ChargerConfig, FleetConfig
from voltbridge.sim.display import milliseconds
from voltbridge.sim.fleet import FleetStats, run_fleet


def main(
    url: str,
    stations: int,
    *,
    password: str | None = None,
    duration: float | None = None,
    meter_interval: float = 10.0,
    progress: bool = True,
    prefix: str = "SIM",
    first_number: int = 1,
    connectors: int = 2,
    max_power_w: float = 11_000.0,
    session_duration: float | None = 60.0,
    idle_duration: float = 30.0,
    id_tags: tuple[str, ...] = ("SIMTAG0001",),
    connect_rate: float | None = 50.0,
    load: bool = False,
    heartbeat_every: int = 10,
    ca_file: str | None = None,
    validate: bool = True,
    console: Console | None = None,
) -> int:
    """Run ``stations`` simulated OCPP 1.6J chargers against ``url`` and print a summary.

    url
        The backend's OCPP endpoint without the station id, e.g. ``ws://127.0.0.1:9000/ocpp``;
        each charger connects to ``{url}/{prefix}{n:04d}`` with subprotocol ``ocpp1.6``.
    stations, prefix, first_number
        How many chargers, and their ids: ``SIM0001`` … by default.
    password
        HTTP Basic password of every charger (the user is its station id).
    duration
        Seconds to run (None: until Ctrl-C). Required with ``load``: the benchmark's time budget.
    meter_interval, connectors, max_power_w, session_duration, idle_duration, id_tags
        How each charger behaves: sessions of ``session_duration`` s separated by idle gaps of
        ``idle_duration`` s (both spread by 20 %), at up to ``max_power_w`` W per connector,
        with MeterValues every ``meter_interval`` s.
    connect_rate
        New connections per second while the fleet comes up (None: all at once).
    load, heartbeat_every
        Load mode: once booted, every charger sends MeterValues back-to-back (every
        ``heartbeat_every``-th call a Heartbeat) for ``duration`` s; the summary gives the
        throughput and answer latency percentiles.
    ca_file
        CA bundle that signed the backend's certificate, for a ``wss://`` url.
    validate
        Check messages against the OCPP JSON schemas; turn off in load runs so that the
        simulator's own validation does not limit what is measured.
    progress, console
        Show a live view (on ``console``, default stdout).

    Returns the exit status: 0 when every charger booted (and, in load mode, calls were
    answered), 1 when some did not, 2 when the arguments make no sense, 130 when interrupted
    without a summary. Ctrl-C (or SIGTERM) ends the run gracefully: sessions are stopped and the
    summary is printed.
    """
    out = console if console is not None else Console()
    try:
        context = _tls_context(url, ca_file)
        config = FleetConfig(
            url=url,
            stations=stations,
            prefix=prefix,
            first_number=first_number,
            password=password,
            ssl=context,
            duration=duration,
            mode="load" if load else "sessions",
            connect_rate=connect_rate,
            load_heartbeat_every=heartbeat_every,
            charger=ChargerConfig(
                connectors=connectors,
                max_power_w=max_power_w,
                meter_interval=meter_interval,
                session_duration=session_duration,
                idle_duration=idle_duration,
                id_tags=id_tags,
                jitter=0.0 if load else 0.2,
                validate_schemas=validate,
            ),
        )
    except (ValueError, OSError) as exc:
        out.print(f"[red]voltbridge simulate: {exc}[/red]")
        return 2
    try:
        stats = asyncio.run(_run(config, progress=progress, console=out))
    except KeyboardInterrupt:
        # Only where the loop cannot take signals (not the main thread); the sessions were ended.
        out.print("[yellow]voltbridge simulate: interrupted[/yellow]")
        return 130
    out.print(summary(stats))
    if stats.booted < stats.stations:
        out.print(f"[red]{stats.stations - stats.booted} of {stats.stations} chargers never booted[/red]")
        if stats.last_error:
            out.print(f"[red]last error: {stats.last_error}[/red]")
        return 1
    if load and stats.calls == 0:
        out.print("[red]no call was answered during the load run[/red]")
        return 1
    return 0


async def _run(config: FleetConfig, *, progress: bool, console: Console) -> FleetStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not every platform lets a loop handle signals; there Ctrl-C cancels the run instead.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        return await run_fleet(config, progress=progress, stop=stop, console=console)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def _tls_context(url: str, ca_file: str | None) -> ssl.SSLContext | None:
    if not url.startswith("wss://"):
        if ca_file is not None:
            raise ValueError("ca_file needs a wss:// url")
        return None
    return ssl.create_default_context(cafile=ca_file)


def summary(stats: FleetStats) -> Table:
    """The end-of-run summary as a table."""
    table = Table(
        title=f"voltbridge sim: {stats.mode} run of {stats.seconds:.1f} s",
        title_justify="left",
        show_header=False,
    )
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    rows = [
        ("chargers booted", f"{stats.booted} / {stats.stations}"),
        ("connected at the end", str(stats.connected)),
        ("sessions started / completed", f"{stats.sessions_started} / {stats.sessions_completed}"),
        ("calls answered", str(stats.calls)),
        ("calls failed", str(stats.failures)),
        ("commands answered", str(stats.commands)),
        ("errors", str(stats.errors)),
        ("calls per second", f"{stats.messages_per_second:.1f}"),
        (
            "latency p50 / p90 / p99",
            " / ".join(milliseconds(v) for v in (stats.latency.p50, stats.latency.p90, stats.latency.p99)),
        ),
        ("latency max", milliseconds(stats.latency.max)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table

"""The fleet runner: many chargers against one central system, in sessions mode and in load mode."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

import pytest
from rich.console import Console

from tests.sim.central import CentralSystem
from tests.sim.conftest import FAST
from voltbridge.sim import FleetConfig, main, run_fleet

LIVELY = replace(FAST, connectors=1, auto_sessions=True, session_duration=0.2, idle_duration=0.05)


def all_stations_charged_and_stopped(central: CentralSystem, station_ids: list[str]) -> bool:
    return all(central.of(s, "StopTransaction") for s in station_ids)


async def test_five_chargers_boot_charge_and_stop_cleanly(central: CentralSystem) -> None:
    config = FleetConfig(url=central.url, stations=5, prefix="FLEET", charger=LIVELY, connect_rate=None)
    ids = config.station_ids()
    assert ids == ["FLEET0001", "FLEET0002", "FLEET0003", "FLEET0004", "FLEET0005"]
    stop = asyncio.Event()

    async def stop_once_every_station_completed_a_session() -> None:
        await central.wait_for(lambda: all_stations_charged_and_stopped(central, ids))
        stop.set()

    watcher = asyncio.create_task(stop_once_every_station_completed_a_session())
    stats = await run_fleet(config, progress=False, stop=stop)
    await watcher
    assert (stats.stations, stats.booted, stats.connected) == (5, 5, 5)
    assert stats.sessions_started >= 5
    # The fleet ended what was running before it left: every start has its stop.
    assert stats.sessions_completed == stats.sessions_started
    for station_id in ids:
        started = {p["id_tag"] for p in central.of(station_id, "StartTransaction")}
        assert started == {"SIMTAG0001"}
        assert len(central.of(station_id, "StartTransaction")) == len(
            central.of(station_id, "StopTransaction")
        )
    assert stats.calls > 0 and stats.failures == 0 and stats.errors == 0
    assert stats.latency.count == stats.calls and stats.latency.p50 > 0


async def test_progress_view_shows_the_fleet(central: CentralSystem) -> None:
    output = io.StringIO()
    console = Console(file=output, width=160, force_terminal=False)
    stop = asyncio.Event()
    config = FleetConfig(url=central.url, stations=2, charger=FAST, connect_rate=None, refresh_interval=0.05)

    async def stop_when_booted() -> None:
        await central.wait_for(lambda: len(central.of("SIM0002", "StatusNotification")) >= 3)
        stop.set()

    watcher = asyncio.create_task(stop_when_booted())
    stats = await run_fleet(config, progress=True, stop=stop, console=console)
    await watcher
    assert stats.booted == 2
    text = output.getvalue()
    assert "connected" in text and "sessions active" in text and "p99" in text


async def test_cancelled_fleet_stops_its_sessions_before_it_goes(central: CentralSystem) -> None:
    charger = replace(FAST, connectors=1, auto_sessions=True, session_duration=None, idle_duration=0.0)
    config = FleetConfig(url=central.url, stations=3, charger=charger, connect_rate=None)
    ids = config.station_ids()
    run = asyncio.create_task(run_fleet(config, progress=False))
    await central.wait_for(lambda: all(central.of(s, "StartTransaction") for s in ids))
    await central.wait_for(lambda: len(central.of(ids[-1], "MeterValues")) >= 1)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    for station_id in ids:
        stops = central.of(station_id, "StopTransaction")
        assert [s["reason"] for s in stops] == ["Local"]


async def test_load_mode_reports_throughput_and_latency_percentiles(central: CentralSystem) -> None:
    config = FleetConfig(
        url=central.url,
        stations=3,
        charger=replace(FAST, validate_schemas=False),
        mode="load",
        duration=0.5,
        connect_rate=None,
        load_heartbeat_every=4,
    )
    stats = await run_fleet(config, progress=False)
    assert stats.mode == "load" and stats.booted == 3
    assert stats.calls > 0 and stats.failures == 0
    assert stats.messages_per_second > 0
    latency = stats.latency
    assert latency.count == stats.calls
    assert 0 < latency.p50 <= latency.p90 <= latency.p99 <= latency.max
    # Load mode sends Heartbeats among the MeterValues, inside a transaction it opens and closes.
    for station_id in config.station_ids():
        assert central.of(station_id, "Heartbeat")
        values = central.of(station_id, "MeterValues")
        [start] = central.of(station_id, "StartTransaction")
        assert all(v.get("transaction_id") is not None for v in values)
        assert central.of(station_id, "StopTransaction")
        assert start["connector_id"] == 1


def test_fleet_config_rejects_what_cannot_run() -> None:
    with pytest.raises(ValueError, match="load mode needs a duration"):
        FleetConfig(url="ws://x/ocpp", stations=1, mode="load")
    with pytest.raises(ValueError, match="stations"):
        FleetConfig(url="ws://x/ocpp", stations=0)
    with pytest.raises(ValueError, match="ws://"):
        FleetConfig(url="http://x/ocpp", stations=1)


async def test_main_runs_a_fleet_and_prints_a_summary(central: CentralSystem) -> None:
    output = io.StringIO()
    console = Console(file=output, width=160, force_terminal=False)
    # main() owns its event loop (asyncio.run), so it runs in a thread next to the test's central system.
    status = await asyncio.to_thread(
        main,
        central.url,
        2,
        duration=0.5,
        meter_interval=0.1,
        progress=False,
        console=console,
        connect_rate=None,
    )
    assert status == 0
    assert {m.station_id for m in central.messages} == {"SIM0001", "SIM0002"}
    assert "chargers booted" in output.getvalue() and "2 / 2" in output.getvalue()


async def test_main_says_when_chargers_never_boot(central: CentralSystem) -> None:
    central.passwords["SIM0001"] = "right"
    output = io.StringIO()
    console = Console(file=output, width=200, force_terminal=False)
    status = await asyncio.to_thread(
        main, central.url, 1, password="wrong", duration=0.3, progress=False, console=console
    )
    assert status == 1
    assert "never booted" in output.getvalue() and "HTTP 401" in output.getvalue()


def test_main_rejects_arguments_that_make_no_sense() -> None:
    output = io.StringIO()
    console = Console(file=output, width=160, force_terminal=False)
    assert main("ws://127.0.0.1:9/ocpp", 1, load=True, console=console) == 2
    assert "duration" in output.getvalue()

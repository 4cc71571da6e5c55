"""voltbridge.sim: a simulated OCPP 1.6J charger and a fleet runner, for the demo, load tests and tests.

This room imports only the ``ocpp`` package, ``websockets``, ``rich`` and the standard library.

    charger = SimulatedCharger("CP0001", "ws://127.0.0.1:9000/ocpp", config=ChargerConfig(connectors=2))
    async with charger.running():
        await charger.wait_for(lambda c: c.booted)
        tx = await charger.start_session(1)

    stats = await run_fleet(FleetConfig(url=..., stations=100, duration=60), progress=True)
"""

from voltbridge.sim.charger import SimulatedCharger
from voltbridge.sim.clock import Clock, SystemClock
from voltbridge.sim.config import ChargerConfig, FleetConfig, FleetMode
from voltbridge.sim.config_store import ConfigEntry, ConfigurationStore
from voltbridge.sim.display import FleetSnapshot
from voltbridge.sim.errors import BackendRefused, CallFailed, NotConnected, SimError
from voltbridge.sim.fleet import FleetStats, run_fleet
from voltbridge.sim.latency import LatencyHistogram, LatencySummary
from voltbridge.sim.load import FloodResult, flood
from voltbridge.sim.simulate import main
from voltbridge.sim.state import MessageCounters, Reservation, Transaction

__all__ = [
    "BackendRefused",
    "CallFailed",
    "ChargerConfig",
    "Clock",
    "ConfigEntry",
    "ConfigurationStore",
    "FleetConfig",
    "FleetMode",
    "FleetSnapshot",
    "FleetStats",
    "FloodResult",
    "LatencyHistogram",
    "LatencySummary",
    "MessageCounters",
    "NotConnected",
    "Reservation",
    "SimError",
    "SimulatedCharger",
    "SystemClock",
    "Transaction",
    "flood",
    "main",
    "run_fleet",
]

"""Fixtures of the simulator's tests: a test central system and chargers pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.sim.central import CentralSystem
from voltbridge.sim import ChargerConfig, SimulatedCharger

# Fast, quiet chargers: no automatic sessions, no waiting between firmware steps.
FAST = ChargerConfig(
    connectors=2,
    auto_sessions=False,
    meter_interval=0.05,
    reconnect_min_delay=0.05,
    reconnect_max_delay=0.2,
    firmware_step_delay=0.0,
    diagnostics_step_delay=0.0,
    response_timeout=5.0,
)

MakeCharger = Callable[..., SimulatedCharger]


@pytest.fixture
async def central() -> AsyncIterator[CentralSystem]:
    system = CentralSystem()
    async with system.serving():
        yield system


@pytest.fixture
def make_charger(central: CentralSystem) -> MakeCharger:
    """A charger for the central system; keyword arguments override FAST's settings."""

    def make(
        station_id: str = "CP0001", *, password: str | None = None, **overrides: Any
    ) -> SimulatedCharger:
        return SimulatedCharger(station_id, central.url, password=password, config=replace(FAST, **overrides))

    return make

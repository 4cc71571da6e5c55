"""Two voltbridge nodes, one PostgreSQL database, one NATS: a command finds the charger's node.

SQLite is skipped here: a SQLite file is not shared well between processes, and a cluster runs
on PostgreSQL. The nodes use the default namespace, which other runs on the same NATS server may
share, so each test uses station ids of its own.
"""

from __future__ import annotations

import contextlib
import uuid

import pytest

from tests.bus.support import wait_until
from tests.chargers import connected
from tests.conftest import AppFactory, ocpp_url
from voltbridge.app import App
from voltbridge.bus.nats import NatsBus
from voltbridge.core.errors import StationOffline, StationRejected


@pytest.fixture
def cluster_database(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("two nodes share one database: PostgreSQL only (SQLite files are not shared well)")
    return database_url


Nodes = tuple[App, App]


@pytest.fixture
async def two_nodes(cluster_database: str, make_app: AppFactory, nats_url: str) -> Nodes:
    a = await make_app(http=False, bus_url=nats_url, node_id="a")
    b = await make_app(http=False, bus_url=nats_url, node_id="b")
    return a, b


def bus(app: App) -> NatsBus:
    assert isinstance(app.bus, NatsBus)
    return app.bus


def new_station_id() -> str:
    return f"CP.{uuid.uuid4().hex[:8]}"  # a '.' must not split the NATS subject


async def test_a_command_sent_on_one_node_reaches_the_charger_on_the_other(two_nodes: Nodes) -> None:
    a, b = two_nodes
    station_id = new_station_id()
    await a.stations.register(station_id)
    async with connected(ocpp_url(a), station_id) as charger:
        assert (await charger.boot()).status == "Accepted"
        await wait_until(lambda: bus(b).holder(station_id) == "a")
        answer = await b.commands.send(
            station_id, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, source="test"
        )
        assert answer == {"status": "Accepted"}
        assert charger.config["HeartbeatInterval"] == "60"
        # The charger's CALLERROR comes back to node b as itself.
        with pytest.raises(StationRejected) as rejected:
            await b.commands.send(station_id, "GetDiagnostics", {"location": "ftp://example.org/"})
        assert rejected.value.code == "NotImplemented"
        log, _ = await b.commands.log(station_id=station_id)
        assert [(e.action, e.status) for e in log] == [
            ("GetDiagnostics", "callerror"),
            ("ChangeConfiguration", "answered"),
        ]
    await wait_until(lambda: not bus(b).holds(station_id))
    with pytest.raises(StationOffline):
        await b.commands.send(station_id, "Reset", {"type": "Soft"})


async def test_a_charger_that_reconnects_to_the_other_node_is_owned_there(two_nodes: Nodes) -> None:
    a, b = two_nodes
    station_id = new_station_id()
    await a.stations.register(station_id)
    async with connected(ocpp_url(a), station_id) as first:
        await first.boot()
        await wait_until(lambda: bus(b).holder(station_id) == "a")
    async with connected(ocpp_url(b), station_id) as second:
        await second.boot()
        await wait_until(lambda: bus(a).holder(station_id) == "b")
        assert await a.commands.send(station_id, "Reset", {"type": "Soft"}) == {"status": "Accepted"}
        assert [action for action, _ in second.received] == ["Reset"]
        station = await a.stations.get(station_id)
        assert station.connected_node is not None and station.connected_node.startswith("b#")


async def test_a_newer_socket_on_the_other_node_wins_over_a_stale_one(two_nodes: Nodes) -> None:
    a, b = two_nodes
    station_id = new_station_id()
    await a.stations.register(station_id)
    async with contextlib.AsyncExitStack() as stale_socket:
        stale = await stale_socket.enter_async_context(connected(ocpp_url(a), station_id))
        await stale.boot()
        await wait_until(lambda: bus(b).holder(station_id) == "a")
        # The charger lost its link to node a without a close and dialled in again via node b.
        async with connected(ocpp_url(b), station_id) as fresh:
            await fresh.boot()
            await wait_until(lambda: bus(a).holder(station_id) == "b")
            assert await a.commands.send(station_id, "ClearCache", {}) == {"status": "Accepted"}
            assert [action for action, _ in fresh.received] == ["ClearCache"]
            assert stale.received == []
            # Node a notices its stale socket at last; that must not take the station from b.
            await stale_socket.aclose()
            await wait_until(lambda: station_id not in a.gateway.connections)
            assert await a.commands.send(station_id, "Reset", {"type": "Soft"}) == {"status": "Accepted"}
            assert [action for action, _ in fresh.received] == ["ClearCache", "Reset"]
            assert bus(a).holder(station_id) == bus(b).holder(station_id) == "b"
            node = (await a.stations.get(station_id)).connected_node
            assert node is not None and node.startswith("b#")

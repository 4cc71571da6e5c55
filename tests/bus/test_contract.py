"""The Bus contract, run on LocalBus, one NatsBus, and two NatsBus nodes (caller and holder apart).

Whatever a service or the gateway may rely on is asserted here once, for every implementation.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.bus.conftest import Nodes, NodesFactory
from tests.bus.support import Collector, FakeStation, LoudPing, Ping, Pong, Reading, wait_until
from voltbridge.bus import BusError, CallRejected, CallTimeout, Event, NotConnected, QueueFull
from voltbridge.core.events import (
    MeterValuesReceived,
    StationConnected,
    StationDisconnected,
    TransactionStarted,
    TransactionStopped,
)

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def test_a_call_reaches_the_registered_handler_and_returns_its_answer(nodes: Nodes) -> None:
    station = FakeStation({"status": "Accepted", "configurationKey": [{"key": "K", "value": "1"}]})
    await nodes.holder.register_station("CP1", station)
    answer = await nodes.caller.call("CP1", "GetConfiguration", {"key": ["K"]}, timeout=2.5)
    assert answer == {"status": "Accepted", "configurationKey": [{"key": "K", "value": "1"}]}
    assert station.calls == [("GetConfiguration", {"key": ["K"]}, 2.5)]


async def test_a_call_to_a_station_nobody_holds_is_not_connected(nodes: Nodes) -> None:
    with pytest.raises(NotConnected):
        await nodes.caller.call("NOBODY", "Reset", {"type": "Soft"}, timeout=1)
    assert not nodes.caller.holds("NOBODY")


@pytest.mark.parametrize(
    "error",
    [CallTimeout("CP1"), NotConnected("CP1"), QueueFull("CP1")],
    ids=lambda e: type(e).__name__,
)
async def test_the_handlers_bus_errors_reach_the_caller_as_themselves(nodes: Nodes, error: BusError) -> None:
    await nodes.holder.register_station("CP1", FakeStation(error=error))
    with pytest.raises(type(error)):
        await nodes.caller.call("CP1", "Reset", {"type": "Soft"}, timeout=1)


async def test_a_callerror_keeps_its_code_description_and_details(nodes: Nodes) -> None:
    rejected = CallRejected("NotSupported", "no such thing here", {"hint": ["x", 1]})
    await nodes.holder.register_station("CP1", FakeStation(error=rejected))
    with pytest.raises(CallRejected) as caught:
        await nodes.caller.call("CP1", "DataTransfer", {"vendorId": "v"}, timeout=1)
    assert (caught.value.code, caught.value.description) == ("NotSupported", "no such thing here")
    assert caught.value.details == {"hint": ["x", 1]}


async def test_a_handler_that_never_answers_ends_in_call_timeout(nodes: Nodes) -> None:
    station = FakeStation(gate=asyncio.Event())  # never opened
    await nodes.holder.register_station("CP1", station)
    with pytest.raises(CallTimeout):
        await nodes.caller.call("CP1", "Reset", {"type": "Soft"}, timeout=0.1)
    assert station.calls


async def test_calls_to_one_station_run_side_by_side_so_its_own_queue_decides(nodes: Nodes) -> None:
    # The gateway's Connection serialises CALLs and answers QueueFull; the bus must not queue
    # requests in front of it, or a slow command would hold the next one past its timeout.
    gate = asyncio.Event()
    station = FakeStation(gate=gate)
    await nodes.holder.register_station("CP1", station)
    first = asyncio.create_task(nodes.caller.call("CP1", "Reset", {"type": "Soft"}, timeout=3))
    await asyncio.wait_for(station.arrived.wait(), 3)
    second = asyncio.create_task(nodes.caller.call("CP1", "ClearCache", {}, timeout=3))
    await wait_until(lambda: len(station.calls) == 2)
    gate.set()
    assert await first == await second == {"status": "Accepted"}


async def test_registering_again_replaces_the_handler(nodes: Nodes) -> None:
    old, new = FakeStation({"who": "old"}), FakeStation({"who": "new"})
    await nodes.holder.register_station("CP1", old)
    await nodes.holder.register_station("CP1", new)
    assert await nodes.caller.call("CP1", "Reset", {}, timeout=1) == {"who": "new"}
    await nodes.holder.unregister_station("CP1", old)  # the old socket closing late changes nothing
    assert nodes.holder.holds("CP1")
    assert await nodes.caller.call("CP1", "Reset", {}, timeout=1) == {"who": "new"}


async def test_unregistering_the_current_handler_withdraws_the_station(nodes: Nodes) -> None:
    station = FakeStation()
    await nodes.holder.register_station("CP1", station)
    await wait_until(lambda: nodes.caller.holds("CP1") and nodes.holder.holds("CP1"))
    await nodes.holder.unregister_station("CP1", station)
    assert not nodes.holder.holds("CP1")
    await wait_until(lambda: not nodes.caller.holds("CP1"))
    with pytest.raises(NotConnected):
        await nodes.caller.call("CP1", "Reset", {}, timeout=1)


async def test_a_bound_method_handler_is_withdrawn_by_an_equal_bound_method(nodes: Nodes) -> None:
    # The gateway registers and unregisters `conn.call`; each access is a new bound-method object.

    class Connection:
        async def call(self, action: str, payload: dict[str, object], timeout: float) -> dict[str, object]:
            return {}

    conn = Connection()
    await nodes.holder.register_station("CP1", conn.call)
    await nodes.holder.unregister_station("CP1", conn.call)
    assert not nodes.holder.holds("CP1")


@pytest.mark.parametrize(
    "station_id", ["CP.1", "a*b", "x>", "with space", "=3D", "ünï-cødé", "a.*.>", "___"], ids=repr
)
async def test_any_station_id_can_be_registered_and_called(nodes: Nodes, station_id: str) -> None:
    other = station_id + "2"  # a near neighbour must not be reached by a wildcard or an escape clash
    await nodes.holder.register_station(station_id, FakeStation({"id": station_id}))
    await nodes.holder.register_station(other, FakeStation({"id": other}))
    assert await nodes.caller.call(station_id, "Reset", {}, timeout=1) == {"id": station_id}
    await wait_until(lambda: nodes.caller.holds(station_id))


async def test_subscribers_get_events_in_the_order_they_were_published(nodes: Nodes) -> None:
    got = Collector()
    nodes.holder.subscribe(Ping, got, name="order")
    for n in range(50):
        await nodes.caller.publish(Ping(n=n, at=AT))
    await wait_until(lambda: len(got.events) == 50)
    assert [e.n for e in got.events if isinstance(e, Ping)] == list(range(50))
    assert got.events[0] == Ping(n=0, at=AT)


async def test_subscribers_get_subclasses_but_not_other_types(nodes: Nodes) -> None:
    pings, pongs = Collector(), Collector()
    nodes.holder.subscribe(Ping, pings, name="pings")
    nodes.holder.subscribe(Pong, pongs, name="pongs")
    await nodes.caller.publish(Ping(n=1, at=AT))
    await nodes.caller.publish(Pong(n=2))
    await nodes.caller.publish(LoudPing(n=3, at=AT))
    await wait_until(lambda: len(pings.events) == 2 and len(pongs.events) == 1)
    assert pings.events == [Ping(n=1, at=AT), LoudPing(n=3, at=AT)]
    assert type(pings.events[1]) is LoudPing
    assert pongs.events == [Pong(n=2)]


async def test_a_failing_subscriber_is_counted_and_keeps_receiving(nodes: Nodes) -> None:
    seen: list[int] = []

    async def flaky(event: Ping) -> None:
        seen.append(event.n)
        if event.n == 1:
            raise RuntimeError("subscriber bug")

    nodes.holder.subscribe(Ping, flaky, name="flaky")
    for n in range(3):
        await nodes.caller.publish(Ping(n=n, at=AT))
    await wait_until(lambda: len(seen) == 3)
    await wait_until(lambda: _stats(nodes, "flaky") == (2, 0, 1))


async def test_a_full_subscriber_queue_drops_only_readings_and_counts_without_slowing_others(
    make_nodes: NodesFactory,
) -> None:
    nodes = await make_nodes(queue_limit=2)
    gate = asyncio.Event()
    slow, fast = Collector(gate), Collector()
    nodes.holder.subscribe(Event, slow, name="slow")
    nodes.holder.subscribe(Event, fast, name="fast")
    await nodes.caller.publish(Ping(n=0, at=AT))
    await asyncio.wait_for(slow.entered.wait(), 5)  # event 0 is out of the queue, in the handler
    later: list[Event] = [
        Reading(site="a", meter=1, value=1),  # queued
        Reading(site="a", meter=1, value=2),  # replaces value 1 in the queue
        Reading(site="a", meter=2, value=1),  # queued: two readings queued, the limit
        Reading(site="a", meter=3, value=1),  # a reading past the limit: dropped
        Ping(n=1, at=AT),  # not a reading: kept past the limit
        Ping(n=2, at=AT),
        Reading(site="a", meter=1, value=3),  # replaces value 2 (a Ping is not about site a)
    ]
    for event in later:
        await nodes.caller.publish(event)
    await wait_until(lambda: _accounted(nodes, "slow") == len(later))
    assert _stats(nodes, "slow") == (0, 1, 0)
    stats = {s.name: s for s in nodes.holder.stats()}
    assert stats["slow"].coalesced == 2 and stats["slow"].depth == 4
    # The fast subscriber has everything while the slow one still waits.
    await wait_until(lambda: _accounted(nodes, "fast") == len(later) + 1 and _depth(nodes, "fast") == 0)
    gate.set()
    await wait_until(lambda: len(slow.events) == 5)
    assert slow.events == [
        Ping(n=0, at=AT),
        Reading(site="a", meter=1, value=3),
        Reading(site="a", meter=2, value=1),
        Ping(n=1, at=AT),
        Ping(n=2, at=AT),
    ]


async def test_a_slow_subscriber_loses_no_lifecycle_event_and_sees_each_transactions_newest_reading(
    make_nodes: NodesFactory,
) -> None:
    nodes = await make_nodes(queue_limit=20)
    gate = asyncio.Event()
    slow = Collector(gate)
    nodes.holder.subscribe(Event, slow, name="slow")
    published: list[Event] = [
        StationConnected(station_id="CP-1", ocpp_version="1.6", at=AT),
        StationConnected(station_id="CP-2", ocpp_version="1.6", at=AT),
        _started(1, "CP-1"),
        _started(2, "CP-2"),
    ]
    published += [_reading(tx, f"CP-{tx}", wh) for wh in range(1, 101) for tx in (1, 2)]
    published += [_stopped(1, "CP-1", 100), _reading(1, "CP-1", 101)]  # a late reading, after its stop
    published += [_reading(2, "CP-2", wh) for wh in range(101, 201)]
    published += [_stopped(2, "CP-2", 200), StationDisconnected(station_id="CP-1", at=AT, reason="gone")]
    for event in published:
        await nodes.caller.publish(event)
    await wait_until(lambda: _accounted(nodes, "slow") == len(published) - 1)  # one is in the handler
    gate.set()
    await wait_until(lambda: _accounted(nodes, "slow") == len(published))

    stats = {s.name: s for s in nodes.holder.stats()}["slow"]
    assert stats.dropped == 0 and stats.coalesced > 0
    assert stats.delivered + stats.coalesced == len(published)
    readings = [e for e in slow.events if isinstance(e, MeterValuesReceived)]
    assert [e for e in slow.events if not isinstance(e, MeterValuesReceived)] == [
        e for e in published if not isinstance(e, MeterValuesReceived)
    ]
    # Each transaction's readings arrive in order, and its newest one arrives.
    for tx, newest in ((1, 101), (2, 200)):
        seen = [e.last_register_wh or 0 for e in readings if e.transaction_id == tx]
        assert seen == sorted(seen) and seen[-1] == newest
    # A station's events keep their order: no reading moved past the stop it was published before.
    for station in ("CP-1", "CP-2"):
        order = [published.index(e) for e in slow.events if getattr(e, "station_id", None) == station]
        assert order == sorted(order)


def _started(tx: int, station_id: str) -> TransactionStarted:
    return TransactionStarted(
        transaction_id=tx,
        station_id=station_id,
        connector_id=1,
        id_tag="TAG",
        started_at=AT,
        meter_start_wh=0,
    )


def _stopped(tx: int, station_id: str, wh: int) -> TransactionStopped:
    return TransactionStopped(
        transaction_id=tx,
        station_id=station_id,
        connector_id=1,
        stopped_at=AT,
        meter_stop_wh=wh,
        energy_wh=wh,
        stop_reason="Local",
    )


def _reading(tx: int, station_id: str, wh: int) -> MeterValuesReceived:
    return MeterValuesReceived(
        station_id=station_id, connector_id=1, transaction_id=tx, samples=1, last_register_wh=wh, at=AT
    )


async def test_subscriptions_made_before_start_deliver_after_it(make_nodes: NodesFactory) -> None:
    nodes = await make_nodes(start=False)
    got = Collector()
    nodes.holder.subscribe(Ping, got, name="early")
    await nodes.holder.start()
    if nodes.remote:
        await nodes.caller.start()
    await nodes.caller.publish(Ping(n=7, at=AT))
    await wait_until(lambda: len(got.events) == 1)


async def test_close_delivers_the_events_already_published(nodes: Nodes) -> None:
    got = Collector()
    nodes.holder.subscribe(Ping, got, name="late")
    for n in range(20):
        await nodes.holder.publish(Ping(n=n, at=AT))
    await nodes.holder.close()
    assert [e.n for e in got.events if isinstance(e, Ping)] == list(range(20))


def _stats(nodes: Nodes, name: str) -> tuple[int, int, int]:
    stats = {s.name: s for s in nodes.holder.stats()}[name]
    return stats.delivered, stats.dropped, stats.failed


def _depth(nodes: Nodes, name: str) -> int:
    return {s.name: s for s in nodes.holder.stats()}[name].depth


def _accounted(nodes: Nodes, name: str) -> int:
    """Events offered to the subscription that are delivered, failed, dropped, coalesced or queued."""
    s = {s.name: s for s in nodes.holder.stats()}[name]
    return s.delivered + s.failed + s.dropped + s.coalesced + s.depth

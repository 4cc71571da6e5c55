"""A subscriber's queue (bus/subscribers.py): readings coalesce within their scope, nothing else is
dropped, and a subscription with concurrency handles scopes side by side, each in order.

The rules live in one place for both buses; the contract suite runs the main ones on NATS too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from tests.bus.conftest import LocalFactory
from tests.bus.support import Collector, Happening, Reading, wait_until
from voltbridge.bus import Event, LocalBus


def _stats(bus: LocalBus, name: str) -> tuple[int, int, int, int]:
    stats = {s.name: s for s in bus.stats()}[name]
    return stats.delivered, stats.coalesced, stats.dropped, stats.depth


async def _held(bus: LocalBus, name: str, **options: int) -> tuple[Collector, asyncio.Event]:
    """A subscriber to everything whose first event is held in the handler until the gate opens."""
    gate = asyncio.Event()
    got = Collector(gate)
    bus.subscribe(Event, got, name=name, **options)
    await bus.publish(Happening(site="warm-up", n=0))
    await asyncio.wait_for(got.entered.wait(), 5)
    return got, gate


async def test_a_newer_reading_takes_the_place_of_a_queued_one_but_never_passes_its_scopes_events(
    make_local: LocalFactory,
) -> None:
    bus = await make_local()
    got, gate = await _held(bus, "slow")
    for event in (
        Reading(site="a", meter=1, value=1),
        Happening(site="b", n=1),  # another site's event: a's readings may still coalesce past it
        Reading(site="a", meter=1, value=2),
        Happening(site="a", n=1),  # a's own event: later readings of a queue behind it
        Reading(site="a", meter=1, value=3),
        Reading(site="a", meter=1, value=4),
    ):
        await bus.publish(event)
    assert _stats(bus, "slow") == (0, 2, 0, 4)
    gate.set()
    await bus.drain()
    assert got.events[1:] == [
        Reading(site="a", meter=1, value=2),
        Happening(site="b", n=1),
        Happening(site="a", n=1),
        Reading(site="a", meter=1, value=4),
    ]
    assert _stats(bus, "slow") == (5, 2, 0, 0)


async def test_a_reading_being_handled_is_not_replaced_and_the_next_one_queues(
    make_local: LocalFactory,
) -> None:
    bus = await make_local()
    gate = asyncio.Event()
    got = Collector(gate)
    bus.subscribe(Reading, got, name="slow")
    await bus.publish(Reading(site="a", meter=1, value=1))
    await asyncio.wait_for(got.entered.wait(), 5)
    await bus.publish(Reading(site="a", meter=1, value=2))
    gate.set()
    await bus.drain()
    assert [e.value for e in got.events if isinstance(e, Reading)] == [1, 2]


async def test_a_queue_holds_one_reading_per_meter_plus_the_events_between_whatever_the_rate(
    make_local: LocalFactory,
) -> None:
    bus = await make_local(queue_limit=10_000)
    got, gate = await _held(bus, "slow")
    meters, happenings = 5, 20
    for value in range(10_000):
        await bus.publish(Reading(site=f"s{value % meters}", meter=1, value=value))
        if value % 500 == 0:
            await bus.publish(Happening(site=f"s{value % meters}", n=value))
    _, coalesced, dropped, depth = _stats(bus, "slow")
    assert dropped == 0
    assert depth <= meters + 2 * happenings
    assert coalesced + depth == 10_000 + happenings
    gate.set()
    await bus.drain()
    newest = {e.site: e.value for e in got.events if isinstance(e, Reading)}
    assert newest == {f"s{m}": 10_000 - meters + m for m in range(meters)}
    assert sum(isinstance(e, Happening) for e in got.events) == happenings + 1


async def test_past_the_limit_readings_of_new_meters_are_dropped_and_other_events_kept_with_one_warning(
    make_local: LocalFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await make_local(queue_limit=3)
    got, gate = await _held(bus, "slow")
    with caplog.at_level(logging.WARNING, logger="voltbridge.bus.subscribers"):
        for n in range(10):
            await bus.publish(Happening(site="b", n=n))  # another site: a's readings stay open
            await bus.publish(Reading(site="a", meter=n, value=n))
        assert _stats(bus, "slow") == (0, 0, 7, 13)
        await bus.publish(Reading(site="a", meter=2, value=20))  # still queued: it can be replaced
        gate.set()
        await bus.drain()
    assert [e.n for e in got.events if isinstance(e, Happening)] == [0, *range(10)]
    readings = [(e.meter, e.value) for e in got.events if isinstance(e, Reading)]
    assert readings == [(0, 0), (1, 1), (2, 20)]  # queued below the limit; later meters found it full
    assert _stats(bus, "slow") == (14, 1, 7, 0)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "overloaded: 4 events queued, 2 of them readings (limit 3)" in messages[0]
    assert "caught up" in messages[1] and "7 readings dropped, 1 coalesced" in messages[1]


async def test_with_concurrency_sites_are_handled_side_by_side_and_each_in_order(
    make_local: LocalFactory,
) -> None:
    bus = await make_local()
    gate = asyncio.Event()
    running: Counter[str] = Counter()
    most: Counter[str] = Counter()
    at_once = 0
    most_at_once = 0
    handled: list[tuple[str, int]] = []

    async def handler(event: Happening) -> None:
        nonlocal at_once, most_at_once
        running[event.site] += 1
        at_once += 1
        most[event.site] = max(most[event.site], running[event.site])
        most_at_once = max(most_at_once, at_once)
        if event.site == "a" and event.n == 0:
            await gate.wait()
        await asyncio.sleep(0)
        handled.append((event.site, event.n))
        running[event.site] -= 1
        at_once -= 1

    bus.subscribe(Happening, handler, name="sites", concurrency=2)
    for n in range(3):
        for site in ("a", "b", "c"):
            await bus.publish(Happening(site=site, n=n))
    # a's first event is held; b and c go on beside it, and a's later events wait for it.
    await wait_until(lambda: len(handled) == 6)
    assert sorted(handled) == [(site, n) for site in ("b", "c") for n in range(3)]
    gate.set()
    await bus.drain()
    for site in ("a", "b", "c"):
        assert [n for s, n in handled if s == site] == [0, 1, 2]
    assert max(most.values()) == 1 and most_at_once == 2


async def test_with_concurrency_close_still_delivers_what_was_queued(make_local: LocalFactory) -> None:
    bus = await make_local()
    got = Collector()
    bus.subscribe(Happening, got, name="late", concurrency=3)
    for n in range(30):
        await bus.publish(Happening(site=f"s{n % 4}", n=n))
    await bus.close()
    assert sorted(e.n for e in got.events if isinstance(e, Happening)) == list(range(30))


async def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        LocalBus().subscribe(Happening, Collector(), name="none", concurrency=0)

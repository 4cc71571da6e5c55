"""What only the NATS bus has: subject encoding, several nodes, the station directory, the wire."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client

from tests.bus.conftest import NatsFactory
from tests.bus.support import Collector, FakeStation, Ping, wait_until
from voltbridge.bus import BusError, NotConnected
from voltbridge.bus.nats import NatsBus
from voltbridge.bus.nats_directory import MISSED_HEARTBEATS
from voltbridge.bus.subjects import Subjects, station_id_from_token, station_token

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SUBJECT_TOKEN_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=")


@pytest.mark.parametrize(
    ("station_id", "token"),
    [
        ("CP-001", "CP-001"),
        ("site.7/a b", "site=2E7=2Fa=20b"),
        ("*>", "=2A=3E"),
        ("=", "=3D"),
        ("é", "=C3=A9"),
    ],
)
def test_station_tokens_keep_common_ids_readable(station_id: str, token: str) -> None:
    assert station_token(station_id) == token
    assert station_id_from_token(token) == station_id


@given(st.text(min_size=1))
def test_station_tokens_round_trip_and_are_one_subject_token(station_id: str) -> None:
    token = station_token(station_id)
    assert set(token) <= SUBJECT_TOKEN_CHARS  # no '.', '*', '>' or whitespace; also a valid KV key
    assert station_id_from_token(token) == station_id


@pytest.mark.parametrize("token", ["", "a.b", "=2", "=zz", "a b", "=C3"])
def test_anything_but_a_station_token_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        station_id_from_token(token)


def test_an_empty_station_id_has_no_token() -> None:
    with pytest.raises(ValueError):
        station_token("")


def test_a_namespace_must_be_one_plain_token() -> None:
    with pytest.raises(ValueError, match="namespace"):
        Subjects("vb.prod")


async def test_every_node_sees_the_events_of_every_node(make_nats: NatsFactory) -> None:
    a, b = await make_nats("a"), await make_nats("b")
    on_a, on_b = Collector(), Collector()
    a.subscribe(Ping, on_a, name="live")
    b.subscribe(Ping, on_b, name="live")
    await a.publish(Ping(n=1, at=AT, source="a"))
    await b.publish(Ping(n=2, at=AT, source="b"))
    await wait_until(lambda: len(on_a.events) == 2 and len(on_b.events) == 2)
    for got in (on_a, on_b):
        assert sorted((e.n, e.source) for e in got.events if isinstance(e, Ping)) == [(1, "a"), (2, "b")]


async def test_a_station_reconnecting_to_another_node_moves_there(make_nats: NatsFactory) -> None:
    a, b, c = await make_nats("a"), await make_nats("b"), await make_nats("c")
    on_a, on_b = FakeStation({"via": "a"}), FakeStation({"via": "b"})
    await a.register_station("CP1", on_a)
    await wait_until(lambda: c.holder("CP1") == "a")
    await b.register_station("CP1", on_b)  # the charger opened a new socket on node b
    # Node a learns of the newer claim and withdraws, so its stale socket gets no commands.
    await wait_until(lambda: a.holder("CP1") == "b" and c.holder("CP1") == "b")
    assert await c.call("CP1", "Reset", {}, timeout=1) == {"via": "b"}
    assert await a.call("CP1", "Reset", {}, timeout=1) == {"via": "b"}
    await a.unregister_station("CP1", on_a)  # the stale socket closes at last: changes nothing
    assert await c.call("CP1", "Reset", {}, timeout=1) == {"via": "b"}
    assert on_a.calls == []
    await b.unregister_station("CP1", on_b)
    await wait_until(lambda: not a.holds("CP1") and not c.holds("CP1"))


async def test_a_node_started_later_knows_the_holders_at_once(make_nats: NatsFactory) -> None:
    a, b = await make_nats("a"), await make_nats("b")
    await a.register_station("CP1", FakeStation())
    await wait_until(lambda: b.holder("CP1") == "a")
    late = await make_nats("late")
    assert late.holder("CP1") == "a"


async def test_a_closed_node_no_longer_holds_its_stations(make_nats: NatsFactory) -> None:
    a, b = await make_nats("a"), await make_nats("b")
    await a.register_station("CP1", FakeStation())
    await wait_until(lambda: b.holds("CP1"))
    await a.close()
    assert not b.holds("CP1")
    with pytest.raises(NotConnected):
        await b.call("CP1", "Reset", {}, timeout=1)
    with pytest.raises(NotConnected):  # a closed bus reaches nothing
        await a.call("CP2", "Reset", {}, timeout=1)


async def test_entries_of_a_node_that_died_stop_counting_after_its_heartbeats(
    make_nats: NatsFactory, nats_url: str
) -> None:
    heartbeat = 0.1
    bus = await make_nats("a", heartbeat=heartbeat)
    # A node that crashed leaves its claim in the bucket and never sends a heartbeat again.
    nc = Client()
    await nc.connect(servers=[nats_url])
    kv = await nc.jetstream().key_value(bus.subjects.directory_bucket)
    ghost = json.dumps({"node": "ghost", "instance": "dead"}).encode()
    await kv.put(station_token("CP9"), ghost)
    await nc.close()
    await wait_until(lambda: bus.holder("CP9") == "ghost")  # the benefit of the doubt, briefly
    await wait_until(lambda: not bus.holds("CP9"), timeout=5 + MISSED_HEARTBEATS * heartbeat)


async def test_requests_and_answers_follow_the_documented_envelope(
    make_nats: NatsFactory, nats_url: str
) -> None:
    bus = await make_nats("a")
    await bus.register_station("CP.1", FakeStation({"status": "Accepted"}))
    nc = Client()
    await nc.connect(servers=[nats_url])
    try:
        subject = bus.subjects.call("CP.1")
        assert subject.endswith(".station.CP=2E1.call")
        ok = await nc.request(subject, json.dumps({"action": "Reset", "payload": {}, "timeout": 1}).encode())
        assert json.loads(ok.data) == {"result": {"status": "Accepted"}}
        bad = await nc.request(subject, b"{not json")
        assert json.loads(bad.data)["error"]["type"] == "BusError"
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("station", "message"),
    [
        (FakeStation(error=RuntimeError("handler bug")), "node a failed to handle Reset"),
        (FakeStation({"when": datetime(2025, 1, 1)}), "unsendable answer"),
    ],
    ids=["handler-raises", "not-json"],
)
async def test_a_handler_failure_reaches_the_caller_as_bus_error(
    make_nats: NatsFactory, station: FakeStation, message: str
) -> None:
    a, b = await make_nats("a"), await make_nats("b")
    await a.register_station("CP1", station)
    with pytest.raises(BusError, match=message):
        await b.call("CP1", "Reset", {}, timeout=1)


async def test_events_of_unknown_topics_are_skipped(make_nats: NatsFactory, nats_url: str) -> None:
    bus = await make_nats("a")
    got = Collector()
    bus.subscribe(Ping, got, name="live")
    nc = Client()
    await nc.connect(servers=[nats_url])
    await nc.publish(bus.subjects.event("test.bus.from_a_newer_version"), b"{}")
    await nc.publish(bus.subjects.event(Ping.topic), b"not json")
    await nc.close()
    await bus.publish(Ping(n=1, at=AT))
    await wait_until(lambda: len(got.events) == 1)


async def test_start_fails_clearly_when_nats_is_unreachable() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bus = NatsBus(f"nats://127.0.0.1:{port}", node_id="a", start_timeout=0.5)
    with pytest.raises(BusError, match="cannot reach NATS"):
        await bus.start()


async def test_registrations_made_before_start_are_served_after_it(make_nats: NatsFactory) -> None:
    early = await make_nats("a", start=False)
    await early.register_station("CP1", FakeStation({"early": True}))
    await early.start()
    other = await make_nats("b")
    assert await other.call("CP1", "Reset", {}, timeout=1) == {"early": True}

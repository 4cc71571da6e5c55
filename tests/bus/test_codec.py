"""The event codec: what goes over NATS comes back as the same frozen dataclass."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voltbridge.bus import Event
from voltbridge.bus.codec import CodecError, decode_event, encode_event, event_class, register_event


class Phase(enum.Enum):
    L1 = "L1"
    L2 = "L2"


@dataclass(frozen=True)
class Sample:
    value_wh: int
    measured_at: datetime | None = None


@register_event
@dataclass(frozen=True, kw_only=True)
class Rich(Event):
    topic: ClassVar[str] = "test.codec.rich"
    station_id: str
    at: datetime
    day: date
    price: Decimal
    ratio: float
    ok: bool
    ref: uuid.UUID
    phase: Phase
    note: str | None = None
    samples: tuple[Sample, ...] = ()
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Discovered(Event):
    """Never registered: found by walking Event's subclasses, as core/events.py's classes are."""

    topic: ClassVar[str] = "test.codec.discovered"
    at: datetime


@dataclass(frozen=True, kw_only=True)
class InheritsTopic(Discovered):
    """Shares its parent's topic, so it is not a message type of its own."""

    more: int = 0


def rich(**overrides: Any) -> Rich:
    values: dict[str, Any] = {
        "station_id": "CP.1 *>",
        "at": datetime(2025, 3, 30, 1, 59, 59, 123456, tzinfo=UTC),
        "day": date(2025, 3, 30),
        "price": Decimal("0.30000000000000004"),
        "ratio": 0.5,
        "ok": True,
        "ref": uuid.UUID(int=7),
        "phase": Phase.L2,
        "samples": (Sample(5, datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2)))), Sample(6)),
        "tags": ["a", "b"],
        "extra": {"nested": [1, "x", None, {"k": 2.5}]},
    }
    values.update(overrides)
    return Rich(**values)


def test_an_event_comes_back_equal_with_its_types() -> None:
    event = rich()
    back = decode_event(Rich.topic, encode_event(event))
    assert back == event
    assert isinstance(back, Rich)
    assert back.at.tzinfo is not None and back.at.utcoffset() == timedelta(0)
    assert isinstance(back.price, Decimal) and str(back.price) == "0.30000000000000004"
    assert back.samples[0].measured_at == event.samples[0].measured_at


def test_every_core_event_is_found_by_its_topic_without_registration() -> None:
    from voltbridge.core import events

    classes = [
        obj
        for obj in vars(events).values()
        if isinstance(obj, type) and issubclass(obj, Event) and obj is not Event and "topic" in vars(obj)
    ]
    assert classes
    for cls in classes:
        assert event_class(cls.topic) is cls


def test_core_events_round_trip() -> None:
    from voltbridge.core.events import StationBooted, TransactionStopped

    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    for event in (
        StationBooted(
            station_id="A", registration_status="Accepted", at=now, boot={"chargePointVendor": "V"}
        ),
        TransactionStopped(
            transaction_id=3,
            station_id="A",
            connector_id=1,
            stopped_at=None,
            meter_stop_wh=10,
            energy_wh=None,
            stop_reason="Local",
        ),
    ):
        assert decode_event(event.topic, encode_event(event)) == event


def test_a_subclass_is_found_by_walking_event_subclasses() -> None:
    event = Discovered(at=datetime(2025, 1, 1, tzinfo=UTC))
    assert event_class("test.codec.discovered") is Discovered
    assert decode_event(Discovered.topic, encode_event(event)) == event


def test_a_subclass_that_only_inherits_its_topic_cannot_be_sent() -> None:
    # Sent, it would arrive on other nodes as its parent, without its own fields.
    with pytest.raises(CodecError, match="InheritsTopic a topic of its own"):
        encode_event(InheritsTopic(at=datetime(2025, 1, 1, tzinfo=UTC), more=3))


def test_two_classes_declaring_one_topic_fail_only_that_topic() -> None:
    @dataclass(frozen=True, kw_only=True)
    class One(Event):
        topic: ClassVar[str] = "test.codec.twice"

    @dataclass(frozen=True, kw_only=True)
    class Two(Event):
        topic: ClassVar[str] = "test.codec.twice"

    with pytest.raises(CodecError, match="declared by both"):
        event_class("test.codec.twice")
    assert event_class("test.codec.discovered") is Discovered


def test_unknown_fields_are_ignored_and_defaults_fill_missing_ones() -> None:
    body = b'{"at": "2025-01-01T00:00:00+00:00", "added_in_a_later_version": 1}'
    assert decode_event(Discovered.topic, body) == Discovered(at=datetime(2025, 1, 1, tzinfo=UTC))
    wire = encode_event(rich()).replace(b',"tags":["a","b"]', b"")
    assert decode_event(Rich.topic, wire) == rich(tags=[])


def test_a_second_class_cannot_take_a_registered_topic() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Impostor(Event):
        topic: ClassVar[str] = "test.codec.rich"

    with pytest.raises(CodecError, match=r"already used by .*Rich"):
        register_event(Impostor)
    assert event_class("test.codec.rich") is Rich


@pytest.mark.parametrize("topic", ["", "a..b", "a.*", "a.>", "has space", ".a", "a."])
def test_topics_must_be_subject_safe(topic: str) -> None:
    cls = dataclasses.make_dataclass("Bad", [], bases=(Event,), frozen=True, namespace={"topic": topic})
    with pytest.raises(CodecError, match="topic"):
        register_event(cls)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "expected an object"),
        (b"{}", "'at' is missing"),
        (b'{"at": "yesterday"}', "not a valid datetime"),
        (b'{"at": 5}', "as a string"),
    ],
)
def test_bad_bodies_raise_codec_error(body: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_event(Discovered.topic, body)


def test_wrong_field_types_are_refused_with_their_path() -> None:
    wire = encode_event(rich()).replace(b'"ok":true', b'"ok":1')
    with pytest.raises(CodecError, match=r"test\.codec\.rich\.ok"):
        decode_event(Rich.topic, wire)


def test_an_unknown_topic_raises() -> None:
    with pytest.raises(CodecError, match="no event class"):
        decode_event("test.codec.nobody", b"{}")


@pytest.mark.parametrize(
    "extra",
    [{"nan": float("nan")}, {"bytes": b"x"}, {"key": {1: "int key"}}],
    ids=["nan", "bytes", "int-key"],
)
def test_values_json_cannot_carry_are_refused_on_encode(extra: dict[str, Any]) -> None:
    with pytest.raises(CodecError):
        encode_event(rich(extra=extra))


_text = st.text(max_size=20)
_times = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]))
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=10,
)


@given(
    st.builds(
        Rich,
        station_id=_text,
        at=_times,
        day=st.dates(),
        price=st.decimals(allow_nan=False, allow_infinity=False),
        ratio=st.floats(allow_nan=False, allow_infinity=False),
        ok=st.booleans(),
        ref=st.uuids(),
        phase=st.sampled_from(Phase),
        note=st.none() | _text,
        samples=st.lists(st.builds(Sample, st.integers(), st.none() | _times), max_size=3).map(tuple),
        tags=st.lists(_text, max_size=3),
        extra=st.dictionaries(_text, _json, max_size=3),
    )
)
def test_round_trip_property(event: Rich) -> None:
    assert decode_event(Rich.topic, encode_event(event)) == event


@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode_event(Rich.topic, data)

"""Events on the wire: JSON for frozen dataclasses of plain values, and a registry by `topic`.

`bus/` imports nothing of ours, so it cannot list the events itself. A class is found by its
topic in two ways: whoever defines it may decorate it with `register_event`, and otherwise the
first lookup of an unknown topic walks the subclasses of `Event` that are imported in this
process (so `core/events.py` needs no bus-specific code). Two classes declaring one topic are
an error, raised when that topic is looked up or published; so is publishing a subclass that
only inherits its parent's topic.

Decoding is directed by the field types, so a `datetime` comes back as a `datetime`, not as the
string it travelled as. Supported field types: str, int, float, bool, None, datetime, date,
Decimal (as a string, never a float), UUID, Enum, lists/tuples/sets, dicts with str keys,
nested dataclasses, unions of these, and `Any` (taken as plain JSON: a datetime inside an
`Any` value is sent as its ISO string and comes back as that string). Unknown fields in a
message are ignored and missing fields with defaults take them, so nodes of neighbouring
versions can talk during a rolling upgrade.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import re
import types
import typing
import uuid
from collections import abc
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from voltbridge.bus.base import Event

E = TypeVar("E", bound=Event)

TOPIC = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
"""A topic is a dotted name whose parts are valid NATS subject tokens (it becomes a subject)."""


class CodecError(ValueError):
    """Raised when an event cannot be encoded, or bytes cannot be decoded into a known event."""


_registry: dict[str, type[Event]] = {}


def register_event(cls: type[E]) -> type[E]:
    """Make `cls` decodable by its topic; usable as a class decorator. Idempotent for one class."""
    _check_event_class(cls)
    known = _registry.get(cls.topic)
    if known is not None and known is not cls:
        raise CodecError(
            f"topic {cls.topic!r} is already used by {_name(known)}; give {_name(cls)} a topic of its own"
        )
    _registry[cls.topic] = cls
    return cls


def event_class(topic: str) -> type[Event] | None:
    """The event class for `topic`, or None if no imported class declares it."""
    cls = _registry.get(topic)
    if cls is None:
        _discover(topic)
        cls = _registry.get(topic)
    return cls


def encode_event(event: Event) -> bytes:
    """The JSON body of `event` (its topic travels separately, in the subject)."""
    cls = type(event)
    if event_class(cls.topic) is not cls:
        # A publisher knows its own class; this raises if the class merely inherits a taken topic,
        # which would otherwise arrive on other nodes as its parent.
        register_event(cls)
    try:
        return json.dumps(_to_wire(event, cls.topic), separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:  # NaN or infinity in a float field
        raise CodecError(f"{cls.topic}: {exc}") from exc


def decode_event(topic: str, data: bytes) -> Event:
    """Rebuild the event published under `topic` from its JSON body."""
    cls = event_class(topic)
    if cls is None:
        raise CodecError(f"no event class for topic {topic!r} is imported in this process")
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CodecError(f"{topic}: the body is not JSON ({exc})") from exc
    event = _from_wire(cls, body, topic)
    assert isinstance(event, Event)
    return event


def _check_event_class(cls: type[Event]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Event)) or not dataclasses.is_dataclass(cls):
        raise CodecError(f"{cls!r} is not a dataclass subclass of Event")
    if not TOPIC.fullmatch(cls.topic):
        raise CodecError(
            f"{_name(cls)} has topic {cls.topic!r}; use dot-separated parts of letters, digits, '_' and '-'"
        )


def _discover(topic: str) -> None:
    # Only the wanted topic counts, so a clash elsewhere cannot break unrelated lookups.
    found: list[type[Event]] = []
    pending: list[type[Event]] = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        # A subclass that inherits its parent's topic is not a message type of its own.
        if vars(cls).get("topic") == topic and dataclasses.is_dataclass(cls) and cls not in found:
            found.append(cls)
    if len(found) > 1:
        names = " and ".join(sorted(_name(cls) for cls in found))
        raise CodecError(f"topic {topic!r} is declared by both {names}; give each its own topic")
    if found:
        register_event(found[0])


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _to_wire(value: Any, path: str) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        # Enum members that are also str/int go out as their value, which json does by itself.
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _to_wire(value.value, path)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _to_wire(getattr(value, f.name), f"{path}.{f.name}") for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(f"{path}: dict keys must be str, not {type(key).__name__}")
            out[key] = _to_wire(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_to_wire(item, f"{path}[{i}]") for i, item in enumerate(items)]
    raise CodecError(f"{path}: cannot send a {type(value).__name__} in an event")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_wire(tp: Any, value: Any, path: str) -> Any:
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _from_union(typing.get_args(tp), value, path)
    if tp is None or tp is type(None):
        if value is not None:
            raise CodecError(f"{path}: expected null, got {value!r}")
        return None
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise CodecError(f"{path}: {value!r} is not one of {typing.get_args(tp)}")
        return value
    if origin is not None:
        return _from_generic(origin, typing.get_args(tp), value, path)
    if isinstance(tp, type):
        return _from_class(tp, value, path)
    raise CodecError(f"{path}: the field type {tp!r} is not supported")


def _from_union(args: tuple[Any, ...], value: Any, path: str) -> Any:
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _from_wire(arg, value, path)
        except CodecError as exc:
            errors.append(str(exc))
    raise CodecError(f"{path}: {value!r} fits none of the union's types ({'; '.join(errors)})")


_SEQUENCES: dict[Any, Callable[[list[Any]], Any]] = {
    list: list,
    tuple: tuple,
    set: set,
    frozenset: frozenset,
    abc.Sequence: tuple,
    abc.Set: frozenset,
}
_MAPPINGS = (dict, abc.Mapping)


def _from_generic(origin: Any, args: tuple[Any, ...], value: Any, path: str) -> Any:
    if origin in _SEQUENCES:
        if not isinstance(value, list):
            raise CodecError(f"{path}: expected a list, got {value!r}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise CodecError(f"{path}: expected {len(args)} items, got {len(value)}")
            return tuple(
                _from_wire(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
            )
        item = args[0] if args else Any
        return _SEQUENCES[origin]([_from_wire(item, v, f"{path}[{i}]") for i, v in enumerate(value)])
    if origin in _MAPPINGS:
        if not isinstance(value, dict):
            raise CodecError(f"{path}: expected an object, got {value!r}")
        item = args[1] if len(args) == 2 else Any
        return {k: _from_wire(item, v, f"{path}.{k}") for k, v in value.items()}
    raise CodecError(f"{path}: the field type {origin!r} is not supported")


def _from_class(tp: type, value: Any, path: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return _from_dataclass(tp, value, path)
    if issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError as exc:
            raise CodecError(f"{path}: {value!r} is not a {tp.__name__}") from exc
    if tp is bool:
        if not isinstance(value, bool):
            raise CodecError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CodecError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CodecError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise CodecError(f"{path}: expected a string, got {value!r}")
        return value
    if tp in (datetime, date, Decimal, uuid.UUID):
        return _from_text(tp, value, path)
    raise CodecError(f"{path}: the field type {tp.__name__} is not supported")


def _from_text(tp: type, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        raise CodecError(f"{path}: expected a {tp.__name__} as a string, got {value!r}")
    try:
        if tp is datetime:
            return datetime.fromisoformat(value)
        if tp is date:
            return date.fromisoformat(value)
        if tp is Decimal:
            return Decimal(value)
        return uuid.UUID(value)
    except (ValueError, InvalidOperation) as exc:
        raise CodecError(f"{path}: {value!r} is not a valid {tp.__name__}") from exc


def _from_dataclass(tp: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise CodecError(f"{path}: expected an object, got {value!r}")
    hints = _hints(tp)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        if f.name in value:
            kwargs[f.name] = _from_wire(hints[f.name], value[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CodecError(f"{path}: the field {f.name!r} is missing")
    try:
        return tp(**kwargs)
    except (TypeError, ValueError) as exc:  # a __post_init__ check of the class refused the values
        raise CodecError(f"{path}: {exc}") from exc

"""The schema acceptors: one for every schema, and never accepting what fastjsonschema refuses.

Soundness is checked against fastjsonschema compiled as validation.py compiles it, on payloads
generated from each schema (valid ones, which must be accepted, and mutated ones, which may be
accepted only if fastjsonschema accepts them too).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from importlib import resources
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voltbridge.ocpp.acceptor import Accept, compile_acceptor
from voltbridge.ocpp.validation import _DATE_TIME

Schema = dict[str, Any]
DATE_TIME = re.compile(_DATE_TIME)
SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def _load() -> dict[str, Schema]:
    schemas = {}
    for folder in ("v16", "v201"):
        for entry in (resources.files("ocpp") / folder / "schemas").iterdir():
            if entry.name.endswith(".json"):
                # The OCA's 2.0.1 schemas start with a byte order mark.
                text = entry.read_text(encoding="utf-8-sig")
                schemas[f"{folder}/{entry.name.removesuffix('.json')}"] = json.loads(text)
    return dict(sorted(schemas.items()))


SCHEMAS = _load()
# Schemas expected to get no acceptor (validation.py then runs fastjsonschema alone). None today.
WITHOUT_ACCEPTOR: set[str] = set()


@functools.cache
def compiled(name: str) -> tuple[Accept, Callable[[object], object]]:
    schema = SCHEMAS[name]
    acceptor = compile_acceptor(schema, DATE_TIME)
    assert acceptor is not None
    return acceptor, fastjsonschema.compile(schema, formats={"date-time": _DATE_TIME}, use_default=False)


def fastjsonschema_accepts(validate: Callable[[object], object], payload: object) -> bool:
    try:
        validate(payload)
    except Exception:  # a JsonSchemaValueException, or e.g. ValueError from multipleOf on NaN
        return False
    return True


def test_every_schema_of_both_versions_gets_an_acceptor_but_the_listed_ones() -> None:
    assert len(SCHEMAS) > 150
    assert {name for name, schema in SCHEMAS.items() if compile_acceptor(schema, DATE_TIME) is None} == (
        WITHOUT_ACCEPTOR
    )
    for action in (
        "MeterValues",
        "Heartbeat",
        "StatusNotification",
        "StartTransaction",
        "StopTransaction",
        "BootNotification",
    ):
        assert compile_acceptor(SCHEMAS[f"v16/{action}"], DATE_TIME) is not None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^a"},
        {"type": "string", "minLength": 1},
        {"type": "string", "format": "email"},
        {"type": "integer", "exclusiveMinimum": 0},
        {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
        {"type": "number", "multipleOf": 0},
        {"enum": ["A", 1]},
        {"type": "array", "items": [{"type": "string"}], "additionalItems": False},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "properties": {"a": {"$ref": "other.json#/definitions/A"}}},
        {"type": "object", "properties": {"a": {"$ref": "#/definitions/Missing"}}},
        {"type": "object", "properties": {"a": {"$ref": "#/definitions/A", "maxLength": 3}}},
        {"type": "object", "properties": {"a": True}},
        {"type": "object", "properties": {"a": {"type": "string", "$id": "#a"}}},
        {"type": "date"},
        {
            "type": "object",
            "properties": {"a": {"$ref": "#/definitions/A"}},
            "definitions": {"A": {"$ref": "#/definitions/A"}},
        },
    ],
)
def test_a_schema_with_anything_not_checked_exactly_gets_none(schema: Schema) -> None:
    assert compile_acceptor(schema, DATE_TIME) is None


# --- MeterValues, by hand -------------------------------------------------------------------------


def meter_values(**changes: object) -> dict[str, object]:
    """A typical 1.6 MeterValues payload; measurand and unit change its first sample, timestamp its time."""
    sampled: list[dict[str, object]] = [
        {"value": "12345.6", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "31.2", "measurand": "Current.Import", "unit": "A"},
        {"value": "230.1", "measurand": "Voltage", "unit": "V"},
    ]
    sampled[0].update({key: value for key, value in changes.items() if key in ("measurand", "unit")})
    meter_value = {"timestamp": changes.pop("timestamp", "2026-11-22T07:26:07.123Z"), "sampledValue": sampled}
    payload = {"connectorId": 1, "transactionId": 1234, "meterValue": [meter_value]}
    payload.update({key: value for key, value in changes.items() if key not in ("measurand", "unit")})
    return payload


@pytest.mark.parametrize(
    ("payload", "accepted"),
    [
        (meter_values(), True),
        (meter_values(timestamp="2026-11-22T07:26:07"), True),  # no offset: _DATE_TIME allows it
        (meter_values(measurand="Energy.Active.Import.Registe"), False),
        (meter_values(connectorId=True), False),
        (meter_values(connectorId="1"), False),
        (meter_values(connectorId=1.0), False),
        (meter_values(extra=1), False),
        (meter_values(timestamp="yesterday"), False),
        (meter_values(meterValue=[]), False),
    ],
)
def test_meter_values_1_6(payload: dict[str, object], accepted: bool) -> None:
    acceptor, validate = compiled("v16/MeterValues")
    assert acceptor(payload) is accepted
    assert fastjsonschema_accepts(validate, payload) is accepted


# --- the checks said to be exact ----------------------------------------------------------------


@SETTINGS
@given(st.one_of(st.text(), st.from_regex(r"\w+:/?/?\S*", fullmatch=True)))
def test_the_uri_format_is_fastjsonschemas(text: str) -> None:
    schemas: list[Schema] = [
        {"type": "string", "format": "uri"},
        {"$schema": "http://json-schema.org/draft-06/schema#", "format": "uri"},
    ]
    for schema in schemas:
        acceptor = compile_acceptor(schema, DATE_TIME)
        assert acceptor is not None
        assert acceptor(text) is fastjsonschema_accepts(fastjsonschema.compile(schema), text)


MULTIPLE_OF = [
    {"type": "number", "multipleOf": 0.1},
    {"type": "number", "multipleOf": 0.01},
    {"type": "number", "multipleOf": 3},
    {"type": "integer", "multipleOf": 0.5},  # integers only: draft 7 also takes 2.0 as an integer
]
MULTIPLE_OF_VALIDATORS = [fastjsonschema.compile(schema) for schema in MULTIPLE_OF]


@SETTINGS
@given(
    st.sampled_from(range(len(MULTIPLE_OF))),
    st.one_of(
        st.integers(),
        st.floats(),
        st.integers(-(10**9), 10**9).map(lambda n: n / 10),
        st.integers(-(10**9), 10**9).map(lambda n: n / 100),
        st.sampled_from([1e308, -1e308, 10**400, 2**53 + 1, 0.3, 19.01]),
    ),
)
def test_multiple_of_is_fastjsonschemas(index: int, number: float) -> None:
    schema = MULTIPLE_OF[index]
    acceptor = compile_acceptor(schema, DATE_TIME)
    assert acceptor is not None
    if schema["type"] == "number" or type(number) is int:
        assert acceptor(number) is fastjsonschema_accepts(MULTIPLE_OF_VALIDATORS[index], number)
    else:
        assert not acceptor(number)


# --- soundness on generated payloads --------------------------------------------------------------


@st.composite
def date_times(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31)))
    fraction = draw(st.sampled_from(["", ".1", ".123", ".123456789"]))
    offset = draw(st.sampled_from(["", "Z", "z", "+00:00", "-05:30", "+14:00"]))
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + offset


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


CONSTRAINTS = {
    "enum",
    "maxLength",
    "format",
    "minimum",
    "maximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "required",
    "additionalProperties",
}


def resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        schema = root["definitions"][schema["$ref"].removeprefix("#/definitions/")]
    return schema


def valid(schema: Schema, root: Schema, along: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Values `schema` accepts, for the forms the OCA schemas use (anything else is a test error).

    `along` (property names, "[]" for the items of an array) leads to a value that is always there,
    however optional, so that a mutation can reach deep fields.
    """
    schema = resolve(schema, root)
    key = (id(schema), along)  # shared, so that hypothesis validates each strategy once
    if key not in _VALID:
        _VALID[key] = _valid(schema, root, along)
    return _VALID[key]


_VALID: dict[tuple[int, tuple[str, ...]], st.SearchStrategy[Any]] = {}


def _valid(schema: Schema, root: Schema, along: tuple[str, ...]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "type" not in schema:  # 2.0.1 DataTransfer's "data": anything
        assert schema.keys() <= {"description"}, schema
        return JSON
    kind = schema["type"]
    if kind == "object":
        properties = schema.get("properties", {})
        needed = [*schema.get("required", []), *along[:1]]
        present = st.fixed_dictionaries(
            {key: valid(properties[key], root, along[1:] if along[:1] == (key,) else ()) for key in needed}
        )
        # At most one optional property: the 2.0.1 schemas nest many, and big payloads are slow to make.
        optional = {key: valid(sub, root) for key, sub in properties.items() if key not in needed}
        chosen = st.lists(st.sampled_from(sorted(optional)), max_size=1) if optional else st.just([])
        extra = chosen.flatmap(lambda keys: st.fixed_dictionaries({key: optional[key] for key in keys}))
        return st.tuples(present, extra).map(lambda both: {**both[0], **both[1]})
    if kind == "array":
        low = max(schema.get("minItems", 0), 1 if along else 0)
        high = min(schema.get("maxItems", low + 2), low + 2)
        return st.lists(valid(schema["items"], root, along[1:]), min_size=low, max_size=high)
    if kind == "string":
        limit = schema.get("maxLength", 50)
        if schema.get("format") == "date-time":
            return date_times()
        if schema.get("format") == "uri":
            return st.from_regex(r"(ftp|https?)://[a-z0-9./-]{1,30}", fullmatch=True)
        assert "format" not in schema
        return st.one_of(st.text(max_size=min(limit, 12)), st.just("x" * limit))
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.integers(
            min_value=None if low is None else math.ceil(low),
            max_value=None if high is None else math.floor(high),
        )
    if kind == "number":
        if "multipleOf" in schema:
            assert schema["multipleOf"] == 0.1 and "minimum" not in schema and "maximum" not in schema
            return st.integers(-(10**8), 10**8).map(lambda n: n / 10)
        return st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))
    assert kind == "boolean", schema
    return st.booleans()


def sites(
    schema: Schema, root: Schema, along: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Schema]]:
    """Every place in a payload that `schema` constrains, as `valid` takes it, and its schema there."""
    schema = resolve(schema, root)
    yield along, schema
    if schema.get("type") == "object":
        for key, sub in schema.get("properties", {}).items():
            yield from sites(sub, root, (*along, key))
    elif schema.get("type") == "array":
        yield from sites(schema["items"], root, (*along, "[]"))


Target = tuple[str, tuple[str, ...], Schema]  # a schema's name, a place in its payloads, the schema there


@functools.cache
def targets(names: tuple[str, ...]) -> list[list[Target]]:
    """The places of the schemas `names`, grouped by the keywords that constrain them.

    A group is drawn first, then a place in it, so that rare constraints (a minimum, a maxItems deep
    in an optional structure) are tried about as often as the many enums and maxLengths.
    """
    groups: dict[tuple[str, ...], list[Target]] = {}
    for name in names:
        for along, schema in sites(SCHEMAS[name], SCHEMAS[name]):
            keywords = (str(schema.get("type")), *sorted(schema.keys() & CONSTRAINTS))
            groups.setdefault(keywords, []).append((name, along, schema))
    return list(groups.values())


@functools.cache
def payloads(name: str, along: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return valid(SCHEMAS[name], SCHEMAS[name], along)


# Values a schema may refuse anywhere: of each type, and of the wrong shape.
ODD = [
    True,
    False,
    None,
    0,
    -1,
    1.0,
    0.5,
    1e300,
    2**64,
    math.nan,
    math.inf,
    "",
    "1",
    "x" * 2600,
    "yesterday",
    "2026-11-22 07:26:07",
    "2026-11-22T07:26:07+0100",
    "Energy.Active.Import.Registe",
    [],
    [1],
    {},
    {"x": 1},
    ("tuple",),
]


# Values of another type than the one named, each a different mistake.
WRONG_TYPE: dict[object, list[Any]] = {
    "integer": [True, 1.5, None],
    "number": [False, "1.5", []],
    "string": [1, True, None],
    "boolean": [1, "true"],
    "array": [("tuple",), {}, "[]"],
    "object": [[], "{}"],
}


def breaking(schema: Schema, value: Any) -> list[Any]:
    """Values that break `schema`'s own constraints, made from `value`, which meets them."""
    broken = []
    if "maxLength" in schema:
        broken.append("x" * (schema["maxLength"] + 1))
    if "enum" in schema or "format" in schema:
        broken += [value[:-1], value + "x", value.replace("T", " ")]
    if "minimum" in schema:
        broken.append(math.floor(schema["minimum"]) - 1)
    if "maximum" in schema:
        broken.append(math.ceil(schema["maximum"]) + 1)
    if "multipleOf" in schema:
        broken += [value + 0.05, value + 0.01]
    if "minItems" in schema:
        broken.append(value[: schema["minItems"] - 1])
    if "maxItems" in schema:
        broken.append(value[:1] * (schema["maxItems"] + 1))
    if "required" in schema:
        broken += [{key: item for key, item in value.items() if key != gone} for gone in schema["required"]]
    if schema.get("additionalProperties") is False and isinstance(value, dict):  # strings have it too
        broken.append({**value, "unknown": 1})
    if schema.get("type") == "integer":
        broken.append(value + 0.5)
    return broken + WRONG_TYPE.get(schema.get("type"), [])


def near(value: Any) -> list[Any]:
    """Values near `value` that a schema may refuse where it accepts `value`."""
    if type(value) is bool:
        return [int(value), str(value).lower(), float(value)]
    if type(value) is int:
        return [value + 1, value - 1, -value, float(value), value + 0.5, str(value), bool(value), 2**63]
    if type(value) is float:
        return [
            value + 0.05,
            value * 10 + 0.01,
            -value,
            str(value),
            value + 1e-9,
            int(value) if math.isfinite(value) else 0,
        ]
    if type(value) is str:
        return [value + "x", value[:-1], value.upper(), value.lower(), " " + value, value * 2, value[:10]]
    if type(value) is list:
        return [[], value + value, value * 5, value[:-1], value[0] if value else 1, tuple(value)]
    if type(value) is not dict:
        return []  # None or a tuple, from ODD
    dropped = [{key: item for key, item in value.items() if key != gone} for gone in value]
    return [{**value, "extra": 1}, {**value, "customData": {}}, *dropped, [value]]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


@st.composite
def mutant(
    draw: st.DrawFn, payload: Any, path: tuple[Any, ...] | None = None, schema: Schema | None = None
) -> Any:
    """`payload` with the value at `path` (or at a random place) replaced by one that may break it.

    Given the `schema` there, by a value that breaks it; else by one near the value, or odd.
    """
    if path is None:
        path = draw(st.sampled_from(list(paths(payload))))
    payload = copy.deepcopy(payload)
    parent, current = None, payload
    for step in path:
        parent, current = current, current[step]
    choices = breaking(schema, current) if schema is not None else []
    replacement = copy.deepcopy(draw(st.sampled_from(choices or near(current) + ODD)))
    if parent is None:
        return replacement
    parent[path[-1]] = replacement
    return payload


def check_soundness(names: tuple[str, ...], data: st.DataObject) -> None:
    """A valid payload is accepted; changed at a chosen place and maybe more, it is accepted only if valid."""
    name, site, schema = data.draw(st.sampled_from(targets(names)).flatmap(st.sampled_from), label="place")
    acceptor, validate = compiled(name)
    payload = data.draw(payloads(name, site), label="valid payload")
    assert fastjsonschema_accepts(validate, payload), "the generator made an invalid payload"
    assert acceptor(payload) is True
    path = tuple(0 if step == "[]" else step for step in site)
    changed = data.draw(mutant(payload, path, schema), label="changed")
    for _ in range(data.draw(st.sampled_from((0, 0, 1, 2)), label="more changes")):
        changed = data.draw(mutant(changed), label="changed")
    verdict = acceptor(changed)
    assert type(verdict) is bool
    if verdict:
        assert fastjsonschema_accepts(validate, changed)


@settings(SETTINGS, max_examples=600)
@given(st.data())
def test_no_schema_accepts_what_fastjsonschema_refuses(data: st.DataObject) -> None:
    check_soundness(tuple(SCHEMAS), data)


@pytest.mark.parametrize(
    "name",
    [
        "v16/MeterValues",
        "v16/StatusNotification",
        "v16/StartTransaction",
        "v16/StopTransaction",
        "v16/BootNotification",
        "v16/SetChargingProfile",
        "v201/MeterValuesRequest",
        "v201/TransactionEventRequest",
        "v201/SetChargingProfileRequest",
    ],
)
@settings(SETTINGS, max_examples=80)
@given(data=st.data())
def test_the_busy_schemas_accept_nothing_fastjsonschema_refuses(name: str, data: st.DataObject) -> None:
    check_soundness((name,), data)

"""Parsing and writing the OCPI 2.2.1 Tariff JSON: every shared tariff round-trips; bad input is named."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.billing.tariff_helpers import SPEC_EXAMPLES, VECTORS, load_json
from voltbridge.billing.tariffs import (
    DayOfWeek,
    Price,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffType,
    parse_tariff,
    tariff_to_ocpi,
)
from voltbridge.billing.tariffs.wire import format_datetime, parse_datetime
from voltbridge.core.errors import InvalidInput


def _tariff_files() -> list[Path]:
    vectors = sorted(VECTORS.glob("*/tariff.json"))
    examples = sorted(SPEC_EXAMPLES.glob("tariff*.json"))
    return vectors + examples


def _tariff_json(path: Path) -> Any:
    return load_json(path)


def _vector_tariffs() -> list[tuple[str, Any]]:
    """(name, tariff JSON) for every shared file and every tariff embedded in a vector's CDRs."""
    cases = [(f"{p.parent.name}/{p.name}", _tariff_json(p)) for p in _tariff_files()]
    for cdr_path in sorted(VECTORS.glob("*/cdr*.json")):
        for i, embedded in enumerate(load_json(cdr_path).get("tariffs", [])):
            cases.append((f"{cdr_path.parent.name}/{cdr_path.name}#tariffs[{i}]", embedded))
    return cases


def _normalise(value: Any) -> Any:
    """Compare date-times as instants: 2015-06-29T20:39:09Z and …09.000Z are the same DateTime."""
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return parse_datetime(value, "test")
    return value


def test_every_vector_folder_has_a_tariff_to_parse() -> None:
    folders = {p.name for p in VECTORS.iterdir() if p.is_dir()}
    with_tariff = {name.split("/")[0] for name, _ in _vector_tariffs()}
    assert folders <= with_tariff


@pytest.mark.parametrize(("name", "data"), _vector_tariffs(), ids=[name for name, _ in _vector_tariffs()])
def test_shared_tariffs_parse_and_round_trip(name: str, data: Any) -> None:
    tariff = parse_tariff(data)
    written = tariff_to_ocpi(tariff)
    assert _normalise(written) == _normalise(data)
    assert parse_tariff(written) == tariff


def test_parsed_fields_have_their_types() -> None:
    tariff = parse_tariff(load_json(SPEC_EXAMPLES / "tariff_4_complex.json"))
    assert tariff.type is TariffType.REGULAR
    assert tariff.elements[0].price_components[0].price == Decimal("2.50")
    assert tariff.elements[0].price_components[0].type is TariffDimensionType.FLAT
    restrictions = tariff.elements[4].restrictions
    assert restrictions is not None
    assert restrictions.start_time == time(9, 0)
    assert restrictions.day_of_week[0] is DayOfWeek.MONDAY
    assert tariff.last_updated == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)


def test_reservation_and_price_bounds_are_read() -> None:
    fee = parse_tariff(load_json(VECTORS / "reservation_with_expire_fee" / "tariff.json"))
    assert fee.elements[0].reservation is ReservationRestrictionType.RESERVATION_EXPIRES
    bounded = parse_tariff(load_json(VECTORS / "025kwh_min_price" / "tariff.json"))
    assert bounded.min_price == Price(excl_vat=Decimal("0.5"), incl_vat=Decimal("0.55"))


def test_floats_are_read_through_their_shortest_text() -> None:
    data = {
        "id": "f",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.1, "vat": 21.0, "step_size": 1}]}],
    }
    component = parse_tariff(data).elements[0].price_components[0]
    assert component.price == Decimal("0.1")
    assert component.vat == Decimal("21.0")


def test_absent_vat_stays_absent_and_differs_from_zero() -> None:
    data = {
        "id": "v",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": "0.25", "step_size": 1},
                    {"type": "TIME", "price": "1", "vat": 0, "step_size": 1},
                ]
            }
        ],
    }
    tariff = parse_tariff(data)
    assert tariff.elements[0].price_components[0].vat is None
    assert tariff.elements[0].price_components[1].vat == 0
    components = tariff_to_ocpi(tariff)["elements"]
    assert isinstance(components, list)
    written = components[0]["price_components"]
    assert "vat" not in written[0]
    assert written[1]["vat"] == 0


def test_end_time_24_00_is_read_as_end_of_day() -> None:
    data = {
        "id": "t",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [{"type": "TIME", "price": 2, "step_size": 1}],
                "restrictions": {"start_time": "20:00", "end_time": "24:00"},
            }
        ],
    }
    restrictions = parse_tariff(data).elements[0].restrictions
    assert restrictions is not None
    assert restrictions.end_time == time(0, 0)


def test_datetimes_are_written_in_utc_with_z() -> None:
    assert format_datetime(datetime(2025, 8, 20, 12, 20, 6, tzinfo=UTC)) == "2025-08-20T12:20:06Z"
    assert format_datetime(datetime(2025, 8, 20, 10, 51, 3, 78000, tzinfo=UTC)) == "2025-08-20T10:51:03.078Z"
    assert parse_datetime("2015-06-29T20:39:09", "x") == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)


_VALID: dict[str, Any] = {
    "id": "bad",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": "0.25", "vat": 10, "step_size": 1}],
            "restrictions": {"start_time": "10:00", "min_duration": 60},
        }
    ],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("currency"), "tariff.currency is required"),
        (lambda d: d.update(currency="EURO"), "ISO 4217"),
        (lambda d: d.update(elements=[]), "no elements"),
        (lambda d: d["elements"][0].update(price_components=[]), "at least one price component"),
        (
            lambda d: d["elements"][0]["price_components"][0].update(type="KWH"),
            "tariff.elements[0].price_components[0].type: 'KWH' is not one of",
        ),
        (
            lambda d: d["elements"][0]["price_components"][0].update(price="-1"),
            "price -1 is negative",
        ),
        (
            lambda d: d["elements"][0]["price_components"][0].update(price="abc"),
            "tariff.elements[0].price_components[0].price: expected a number",
        ),
        (
            lambda d: d["elements"][0]["price_components"][0].update(price=True),
            "expected a number",
        ),
        (
            lambda d: d["elements"][0]["price_components"][0].pop("step_size"),
            "step_size is required",
        ),
        (
            lambda d: d["elements"][0]["price_components"][0].update(step_size=1.5),
            "expected a whole number",
        ),
        (lambda d: d["elements"][0]["restrictions"].update(start_time="25:00"), "expected HH:MM"),
        (lambda d: d["elements"][0]["restrictions"].update(start_date="2025-02-30"), "is not a date"),
        (lambda d: d["elements"][0]["restrictions"].update(day_of_week=["MON"]), "'MON' is not one of"),
        (lambda d: d["elements"][0]["restrictions"].update(min_duration=-5), "min_duration -5 is negative"),
        (lambda d: d.update(min_price={"excl_vat": 2}, max_price={"excl_vat": 1}), "is above max_price"),
        (lambda d: d.update(min_price={"excl_vat": 2, "incl_vat": 1}), "incl_vat 1 is below excl_vat 2"),
        (lambda d: d.update(last_updated="yesterday"), "tariff.last_updated: 'yesterday' is not"),
        (lambda d: d.update(elements="all"), "expected a list"),
    ],
)
def test_bad_tariffs_raise_invalid_input_naming_the_field(change: Any, message: str) -> None:
    data = copy.deepcopy(_VALID)
    change(data)
    with pytest.raises(InvalidInput) as caught:
        parse_tariff(data)
    assert message in str(caught.value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["id", "currency", "elements", "price_components", "type", "price", "step_size", "vat", "restrictions"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=6))
def test_random_json_only_ever_raises_invalid_input(data: dict[str, Any]) -> None:
    try:
        tariff = parse_tariff(data)
    except InvalidInput:
        return
    assert isinstance(tariff, Tariff)


_amounts = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def _tariff_data(draw: st.DrawFn) -> dict[str, Any]:
    elements = []
    for _ in range(draw(st.integers(1, 3))):
        components = [
            {
                "type": draw(st.sampled_from([t.value for t in TariffDimensionType])),
                "price": draw(_amounts),
                "step_size": draw(st.sampled_from([0, 1, 60, 300, 500])),
            }
            for _ in range(draw(st.integers(1, 3)))
        ]
        element: dict[str, Any] = {"price_components": components}
        restrictions = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "start_time": st.sampled_from(["00:00", "07:30", "22:00"]),
                    "end_time": st.sampled_from(["00:00", "06:00", "18:45"]),
                    "start_date": st.just("2025-01-01"),
                    "min_kwh": _amounts,
                    "max_power": _amounts,
                    "max_duration": st.integers(0, 10_000),
                    "day_of_week": st.lists(st.sampled_from([d.value for d in DayOfWeek]), max_size=3),
                    "reservation": st.sampled_from(["RESERVATION", "RESERVATION_EXPIRES"]),
                },
            )
        )
        if restrictions:
            element["restrictions"] = restrictions
        elements.append(element)
    data: dict[str, Any] = {"id": "gen", "currency": "EUR", "elements": elements}
    if draw(st.booleans()):
        data["max_price"] = {"excl_vat": Decimal("10.00"), "incl_vat": Decimal("12.10")}
    return data


@settings(max_examples=200, deadline=None)
@given(_tariff_data())
def test_generated_tariffs_round_trip(data: dict[str, Any]) -> None:
    tariff = parse_tariff(data)
    assert parse_tariff(tariff_to_ocpi(tariff)) == tariff

"""Our OCPI 2.2.1 models: the spec's JSON examples parse and round-trip; the checks are strict."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from voltbridge.ocpi.types import DisplayText, format_datetime, parse_datetime
from voltbridge.ocpi.v221.cdrs import Cdr
from voltbridge.ocpi.v221.core import Credentials, Version, VersionDetails
from voltbridge.ocpi.v221.locations import EVSE, EnergyMix, Hours, Location
from voltbridge.ocpi.v221.sessions import Session
from voltbridge.ocpi.v221.tariffs import Tariff
from voltbridge.ocpi.v221.tokens import Token

EXAMPLES = Path(__file__).parents[3] / "shared" / "data" / "ocpi" / "spec-examples-2.2.1"

# example file prefix -> (model, how to get the object out of the file)
KINDS: list[tuple[str, type[BaseModel], Any]] = [
    ("cdr_example", Cdr, None),
    ("credentials_example", Credentials, None),
    ("location_energymix", EnergyMix, "energy_mix"),
    ("location_example", Location, None),
    ("location_hours", Hours, None),
    ("location_regularhours_example", Hours, "opening_times"),
    ("session_example", Session, None),
    ("tariff_", Tariff, None),
    ("tariffrestriction_example", Tariff, None),
    ("token_example", Token, None),
    ("token_put_example", Token, None),
    ("transport_and_format_get_token_example", Token, "data"),
    ("type_displaytext_example", DisplayText, None),
    ("version_details_example", VersionDetails, None),
]


def _examples() -> list[tuple[str, type[BaseModel], Any]]:
    cases = []
    for path in sorted(EXAMPLES.glob("*.json")):
        for prefix, model, key in KINDS:
            if path.stem.startswith(prefix) and path.stem != "tariff_put_example":
                cases.append((path.name, model, key))
                break
    return cases


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str):
        try:
            return format_datetime(parse_datetime(value)) if "T" in value and value[:4].isdigit() else value
        except ValueError:
            return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return round(float(value), 4)


@pytest.mark.parametrize(("name", "model", "key"), _examples())
def test_spec_examples_parse_and_round_trip(name: str, model: type[BaseModel], key: str | None) -> None:
    data = json.loads((EXAMPLES / name).read_text())
    if key is not None:
        data = data[key]
    parsed = model.model_validate(data)
    out = parsed.model_dump(mode="json", exclude_none=True)
    assert _normal(out) == _normal(data)


def test_every_example_file_is_covered() -> None:
    covered = {name for name, _, _ in _examples()}
    skipped = {p.name for p in EXAMPLES.glob("*.json") if p.name not in covered}
    # Partial objects (PATCH bodies), envelopes of lists and the versions list are checked elsewhere.
    assert all(
        n.startswith(
            (
                "location_patch",
                "session_patch",
                "token_patch",
                "transport_and_format",
                "versions_info",
                "tariff_put",
                "location_put",
            )
        )
        for n in skipped
    ), skipped


def test_the_add_evse_example_is_refused_because_it_is_incomplete() -> None:
    # The spec's own example omits power_type, max_voltage, max_amperage and last_updated of its
    # connector, spells floor_level as "floor" and gives physical_reference as a number: a strict
    # receiver must refuse it, and so do we.
    data = json.loads((EXAMPLES / "location_put_example_add_evse.json").read_text())
    with pytest.raises(ValidationError):
        EVSE.model_validate(data)


def test_versions_list_and_list_envelopes_parse() -> None:
    for item in json.loads((EXAMPLES / "versions_info_example.json").read_text()):
        Version.model_validate(item)
    tokens = json.loads((EXAMPLES / "transport_and_format_get_token_list_example.json").read_text())
    assert [Token.model_validate(t).uid for t in tokens["data"]]


def _location() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "location_example.json").read_text())
    return data


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"city": "x" * 46}, "city is string(45)"),
        ({"country_code": "NLD"}, "country_code is CiString(2)"),
        ({"id": "é"}, "CiString is ASCII"),
        ({"id": "x" * 37}, "id is CiString(36)"),
        ({"parking_type": "ROOFTOP"}, "unknown ParkingType"),
        ({"coordinates": {"latitude": "51.04", "longitude": "3.7"}}, "5 to 7 decimals"),
        ({"time_zone": None}, "time_zone is required in 2.2.1"),
        ({"publish_allowed_to": [{"uid": "X"}]}, "only when publish is false"),
    ],
)
def test_location_checks_are_strict(change: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError):
        Location.model_validate(_location() | change)


def test_required_fields_and_cardinality() -> None:
    data = _location()
    del data["last_updated"]
    with pytest.raises(ValidationError):
        Location.model_validate(data)
    evse = _location()["evses"][0] | {"connectors": []}
    with pytest.raises(ValidationError):
        EVSE.model_validate(evse)  # at least one connector
    cdr = json.loads((EXAMPLES / "cdr_example.json").read_text())
    with pytest.raises(ValidationError):
        Cdr.model_validate(cdr | {"charging_periods": []})
    with pytest.raises(ValidationError):
        Cdr.model_validate(cdr | {"id": "x" * 40})  # CiString(39)


def test_datetimes_are_written_in_utc_with_z_and_read_leniently() -> None:
    assert format_datetime(datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)) == "2015-06-29T20:39:09Z"
    assert format_datetime(datetime(2015, 6, 29, 20, 39, 9, 123456, tzinfo=UTC)) == "2015-06-29T20:39:09.123Z"
    for text in (
        "2015-06-29T20:39:09Z",
        "2015-06-29T20:39:09",
        "2015-06-29T22:39:09+02:00",
        "2015-06-29T20:39:09.000000000Z",
    ):
        assert parse_datetime(text) == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("29/06/2015")


def test_numbers_are_decimal_inside_and_json_numbers_outside() -> None:
    cdr = Cdr.model_validate(json.loads((EXAMPLES / "cdr_example.json").read_text()))
    assert isinstance(cdr.total_cost.excl_vat, Decimal)
    wire = cdr.to_wire()
    assert isinstance(wire["total_cost"]["excl_vat"], int | float)
    assert json.dumps(wire)  # plain JSON

"""Every CDR of the shared tariff vectors, re-priced from its charging periods, gives its expected totals.

The expected values are the CDR's own `total_*` fields, or `output_price__cdr.json` where the folder
has one. Two rules of the harness:
- The Location time zone comes from the CDR's country (all vectors are in the Netherlands); the
  `step_size` vector is written in +01:00 and only prices as expected on that wall clock.
- Amounts are compared at the precision the vector states them in (0.5502 has four places), which is
  the `decimal_places` we price with.
The one documented disagreement (`025kwh_min_price/cdr2_less_than_2kWh`) asserts our decision.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.billing.tariff_helpers import SPEC_EXAMPLES, VECTORS, load_annotated_json, load_json
from voltbridge.billing.tariffs import Cost, PricingOptions, PricingResult, parse_tariff, price_cdr_periods

_ZONES = {"NLD": ZoneInfo("Europe/Amsterdam"), "BEL": ZoneInfo("Europe/Brussels")}
_MIN_PRICE_CASE = ("025kwh_min_price", "cdr2_less_than_2kWh.json")


def _cases() -> list[tuple[str, str]]:
    return [(p.parent.name, p.name) for p in sorted(VECTORS.glob("*/cdr*.json"))]


def _tariff_for(folder: Path, cdr: dict[str, Any]) -> Any:
    path = folder / "tariff.json"
    return load_json(path) if path.exists() else cdr["tariffs"][0]


def _expected(folder: Path, cdr: dict[str, Any]) -> dict[str, Any]:
    output = folder / "output_price__cdr.json"
    if output.exists():
        expected: dict[str, Any] = load_annotated_json(output)["cdr_price"]
        return expected
    return cdr


def _places(value: Any) -> int:
    exponent = Decimal(str(value)).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(-exponent, 0)


def _money_fields(expected: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = ("total_cost", "total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost")
    return {name: expected[name] for name in names if name in expected}


def _cost(result: PricingResult, field: str) -> Cost:
    return {
        "total_cost": result.total_cost,
        "total_energy_cost": result.energy_cost,
        "total_time_cost": result.time_cost,
        "total_parking_cost": result.parking_cost,
        "total_fixed_cost": result.fixed_cost,
    }[field]


def _price(folder_name: str, cdr_name: str, **options: Any) -> tuple[PricingResult, dict[str, Any]]:
    folder = VECTORS / folder_name
    cdr = load_json(folder / cdr_name)
    expected = _expected(folder, cdr)
    places = max(
        [2] + [_places(amount) for price in _money_fields(expected).values() for amount in price.values()]
    )
    tariff = parse_tariff(_tariff_for(folder, cdr))
    zone = _ZONES[cdr["cdr_location"]["country"]]
    result = price_cdr_periods(tariff, cdr, PricingOptions(decimal_places=places, **options), tz=zone)
    return result, expected


@pytest.mark.parametrize(("folder", "cdr_name"), _cases(), ids=[f"{f}/{c}" for f, c in _cases()])
def test_vector_cdr_reprices_to_its_expected_totals(folder: str, cdr_name: str) -> None:
    result, expected = _price(folder, cdr_name)
    for field, price in _money_fields(expected).items():
        if (folder, cdr_name) == _MIN_PRICE_CASE and field == "total_cost":
            continue  # our decision differs; see the test below
        cost = _cost(result, field)
        assert cost.excl_vat == Decimal(str(price["excl_vat"])), field
        assert cost.incl_vat == Decimal(str(price["incl_vat"])), field
    volumes = {
        "total_energy": result.total_energy_kwh,
        "total_time": result.total_time_h,
        "total_parking_time": result.total_parking_time_h,
    }
    for field, value in volumes.items():
        if field in expected:
            want = Decimal(str(expected[field]))
            assert value.quantize(Decimal(1).scaleb(-_places(want))) == want, field
    for warning in expected.get("warnings", []):
        assert warning in result.warnings


def test_min_price_is_applied_where_the_tandemdrive_vector_ignores_it() -> None:
    """Decision: min_price applies, as the specification says (0.50 / 0.55 for this 1.2 kWh session).

    The vector expects 0.30 / 0.33 because the engine that produced it does not apply min_price; the
    option `apply_min_price=False` reproduces it for comparisons with such partners.
    """
    ours, vector = _price(*_MIN_PRICE_CASE)
    assert ours.total_cost == Cost(excl_vat=Decimal("0.50"), incl_vat=Decimal("0.55"))
    assert ours.min_price_applied
    assert ours.energy_cost == Cost(excl_vat=Decimal("0.30"), incl_vat=Decimal("0.33"))
    theirs, _ = _price(*_MIN_PRICE_CASE, apply_min_price=False)
    assert theirs.total_cost.excl_vat == Decimal(str(vector["total_cost"]["excl_vat"]))
    assert theirs.total_cost.incl_vat == Decimal(str(vector["total_cost"]["incl_vat"]))
    assert not theirs.min_price_applied


def test_codeberg_228_periods_before_the_cdr_start_are_priced_and_flagged() -> None:
    """The CDR's periods start 20 minutes before its start_date_time: priced as sent, with a warning.

    The sender's own total (1.83 / 2.21) differs from the expected output (1.84 / 2.22, the periods
    priced at 14:00 and 15:00 Amsterdam time); we match the expected output.
    """
    result, _ = _price("codeberg_issue_228", "cdr.json")
    assert result.total_cost == Cost(excl_vat=Decimal("1.84"), incl_vat=Decimal("2.22"))
    assert result.warnings == ("periods_outside_start_end_date_time",)
    assert [c.price for p in result.periods for c in p.components] == [Decimal("0.22"), Decimal("0.24")]


def test_spec_cdr_example_rounds_time_up_to_the_step() -> None:
    """OCPI-NOTES 10.6 #19: 1.973 h of charging at 2.00/h, step 300 s, is billed as 2 h."""
    cdr = load_json(SPEC_EXAMPLES / "cdr_example.json")
    tariff = parse_tariff(cdr["tariffs"][0])
    result = price_cdr_periods(tariff, cdr, tz=_ZONES[cdr["cdr_location"]["country"]])
    assert result.total_cost == Cost(excl_vat=Decimal("4.00"), incl_vat=Decimal("4.40"))
    assert result.time_cost == result.total_cost
    assert result.periods[0].components[0].billed_volume == Decimal(2)

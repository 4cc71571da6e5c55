"""Regression: a stated min_price incl_vat is not undone by a max_price without incl_vat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from voltbridge.billing.tariffs import ChargingSession, SessionSample, parse_tariff, price_session

START = datetime(2025, 3, 29, 22, 0, tzinfo=UTC)


def test_a_derived_cap_does_not_undo_a_stated_minimum_incl_vat() -> None:
    # Found by test_tariff_properties: min 0.00 / 0.01 and max 0.00 without incl_vat. Nothing costs
    # anything excl. VAT, so the minimum's 0.01 incl. VAT is the only incl. VAT figure stated.
    tariff = parse_tariff(
        {
            "id": "bounds",
            "currency": "EUR",
            "min_price": {"excl_vat": "0.00", "incl_vat": "0.01"},
            "max_price": {"excl_vat": "0.00"},
            "elements": [{"price_components": [{"type": "ENERGY", "price": "0.00", "step_size": 0}]}],
        }
    )
    session = ChargingSession(
        start=START,
        end=START + timedelta(seconds=1),
        samples=[
            SessionSample(at=START, energy_wh=0),
            SessionSample(at=START + timedelta(seconds=1), energy_wh=0),
        ],
        tz=ZoneInfo("Europe/Amsterdam"),
    )
    total = price_session(tariff, session).total_cost
    assert (total.excl_vat, total.incl_vat) == (Decimal("0.00"), Decimal("0.01"))


def test_a_capped_excl_vat_keeps_the_stated_minimum_incl_vat() -> None:
    # The second example hypothesis found: 1 Wh at 0.01/kWh, so a tiny excl. VAT that the cap of 0.00
    # removes, while the stated minimum still asks 0.01 incl. VAT.
    tariff = parse_tariff(
        {
            "id": "bounds",
            "currency": "EUR",
            "min_price": {"excl_vat": "0.00", "incl_vat": "0.01"},
            "max_price": {"excl_vat": "0.00"},
            "elements": [{"price_components": [{"type": "ENERGY", "price": "0.01", "step_size": 0}]}],
        }
    )
    session = ChargingSession(
        start=START,
        end=START + timedelta(seconds=1),
        samples=[
            SessionSample(at=START, energy_wh=0),
            SessionSample(at=START + timedelta(seconds=1), energy_wh=1),
        ],
        tz=ZoneInfo("Europe/Amsterdam"),
    )
    result = price_session(tariff, session)
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("0.00"), Decimal("0.01"))
    assert result.min_price_applied and result.max_price_applied

"""The tariff engine's public face: what other rooms may import is exactly what __init__ re-exports."""

from __future__ import annotations

import inspect

import voltbridge.billing.tariffs as tariffs


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in tariffs.__all__:
        value = getattr(tariffs, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def test_the_public_face_is_exactly_the_documented_api() -> None:
    assert set(tariffs.__all__) == {
        "ChargingSession",
        "Cost",
        "CostBucket",
        "DayOfWeek",
        "DayOfWeekAnchor",
        "DisplayText",
        "EnergyMix",
        "EnergySource",
        "EnvironmentalImpact",
        "PeriodKind",
        "Price",
        "PriceComponent",
        "PricedComponent",
        "PricedPeriod",
        "PricingOptions",
        "PricingResult",
        "PricingWarning",
        "Reservation",
        "ReservationRestrictionType",
        "SessionSample",
        "StepBase",
        "Tariff",
        "TariffDimensionType",
        "TariffElement",
        "TariffRestrictions",
        "TariffType",
        "TimeStepRule",
        "parse_tariff",
        "price_cdr_periods",
        "price_reservation",
        "price_session",
        "running_cost",
        "tariff_to_ocpi",
    }

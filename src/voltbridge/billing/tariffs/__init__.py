"""The tariff engine: OCPI 2.2.1 Tariffs and the pricing of sessions and CDRs (no database, no HTTP)."""

from voltbridge.billing.tariffs.models import (
    DayOfWeek,
    DisplayText,
    EnergyMix,
    EnergySource,
    EnvironmentalImpact,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
    TariffType,
)
from voltbridge.billing.tariffs.wire import parse_tariff, tariff_to_ocpi

__all__ = [
    "DayOfWeek",
    "DisplayText",
    "EnergyMix",
    "EnergySource",
    "EnvironmentalImpact",
    "Price",
    "PriceComponent",
    "ReservationRestrictionType",
    "Tariff",
    "TariffDimensionType",
    "TariffElement",
    "TariffRestrictions",
    "TariffType",
    "parse_tariff",
    "tariff_to_ocpi",
]

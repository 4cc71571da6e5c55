"""The tariff engine: OCPI 2.2.1 Tariffs and the pricing of sessions and CDRs (no database, no HTTP).

Price a session from meter samples with `price_session` (or `running_cost` while it runs), re-price a
CDR's charging periods with `price_cdr_periods`, and a reservation alone with `price_reservation`. The
decisions where OCPI texts and test vectors disagree are `PricingOptions`; see engine.py and
docs/tariffs.md.
"""

from voltbridge.billing.tariffs.engine import (
    price_cdr_periods,
    price_reservation,
    price_session,
    running_cost,
)
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
from voltbridge.billing.tariffs.options import DayOfWeekAnchor, PricingOptions, StepBase, TimeStepRule
from voltbridge.billing.tariffs.result import (
    Cost,
    CostBucket,
    PeriodKind,
    PricedComponent,
    PricedPeriod,
    PricingResult,
    PricingWarning,
)
from voltbridge.billing.tariffs.session import ChargingSession, Reservation, SessionSample
from voltbridge.billing.tariffs.wire import parse_tariff, tariff_to_ocpi

__all__ = [
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
]

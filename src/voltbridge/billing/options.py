"""Billing settings as one typed object: pricing choices, review policy, and the ERE constants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from voltbridge.billing.tariffs import PricingOptions
from voltbridge.billing.validation import DEFAULT_HOLD, Flag
from voltbridge.core.errors import InvalidInput


@dataclass(frozen=True, slots=True, kw_only=True)
class EreSettings:
    """The Dutch ERE (renewable energy units for transport) formula's inputs.

    EREs = eligible kWh x renewable share of the delivery year x `emission_factor_g_per_mj` x
    `mj_per_kwh` / 1000. The renewable share is published per delivery year; a year without one
    configured (here or in the report request) has no ERE figure, never a guessed one.
    """

    renewable_share: Mapping[int, Decimal] = field(default_factory=dict)
    emission_factor_g_per_mj: Decimal = Decimal(183)
    mj_per_kwh: Decimal = Decimal("3.6")

    def __post_init__(self) -> None:
        for year, share in self.renewable_share.items():
            if not Decimal(0) <= share <= Decimal(1):
                raise InvalidInput(f"renewable share {share} for {year} is not between 0 and 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingOptions:
    """How sessions are priced, which findings hold a session for review, and the ERE constants.

    `default_currency` is the currency of a CDR that no tariff priced (it costs 0.00).
    """

    pricing: PricingOptions = field(default_factory=PricingOptions)
    hold: frozenset[Flag] = DEFAULT_HOLD
    default_currency: str = "EUR"
    ere: EreSettings = field(default_factory=EreSettings)
    running_cost_interval: float = 15.0  # seconds between re-pricings of one running session

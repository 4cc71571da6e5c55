"""One pricing path for the running cost and the CDR: a cleaned curve, priced with the snapshot tariff.

The running cost of a session is `price_curve` over the readings so far, up to the newest one; the
CDR is `price_curve` over all readings up to the stop. So when the last reading is the stop reading,
the two agree to the cent (tests/billing/test_billing_properties.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, tzinfo
from decimal import Decimal

from voltbridge.billing.readings import Curve
from voltbridge.billing.tariffs import (
    ChargingSession,
    PriceComponent,
    PricingOptions,
    PricingResult,
    Tariff,
    TariffDimensionType,
    TariffElement,
    price_session,
)


def rated_tariff(tariff: Tariff, *, rate_idle: bool) -> Tariff:
    """The tariff as the operator rates sessions: without idle fees when idle time is not rated.

    An operator whose session rating settings say idle time is not rated bills no PARKING_TIME; an
    element left without components is dropped. A tariff with nothing left is free.
    """
    if rate_idle:
        return tariff
    elements: list[TariffElement] = []
    for element in tariff.elements:
        kept = tuple(c for c in element.price_components if c.type is not TariffDimensionType.PARKING_TIME)
        if kept:
            elements.append(replace(element, price_components=kept))
    if not elements:
        return free_tariff(tariff.currency, tariff_id=tariff.id)
    return replace(tariff, elements=tuple(elements))


def free_tariff(currency: str, *, tariff_id: str = "free") -> Tariff:
    """A tariff that costs nothing (OCPI's single FLAT of 0.00): prices periods without money."""
    return Tariff(
        id=tariff_id,
        currency=currency,
        elements=(
            TariffElement(
                price_components=(
                    PriceComponent(type=TariffDimensionType.FLAT, price=Decimal(0), step_size=0),
                )
            ),
        ),
    )


def price_curve(
    tariff: Tariff,
    curve: Curve,
    *,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    options: PricingOptions,
) -> PricingResult:
    """The price of the session from `start` to `end` along `curve` (raises InvalidInput on bad data)."""
    end = max(end, start, *(s.at for s in curve.samples))
    session = ChargingSession(start=start, end=end, samples=curve.samples, tz=tz)
    return price_session(tariff, session, options)

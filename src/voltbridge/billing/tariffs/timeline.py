"""The engine's inner timeline: segments with exact volumes, whatever the input was.

Instants are `Fraction` seconds since the Unix epoch and volumes are `Fraction`s, so that splitting a
segment (at a kWh crossing found by interpolation, say) never loses or invents a microsecond or a
milli-watt-hour: the parts always add up to the whole, and a step_size round-up never tips over a
boundary because of a conversion. Only the result is converted to `Decimal`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction

from voltbridge.billing.tariffs.options import PricingOptions
from voltbridge.billing.tariffs.result import PeriodKind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the session in which every restriction keeps its value.

    `elapsed_s` counts from the start of the segment's phase (the charging session, or the
    reservation), `energy_before_wh` is the session energy at the segment's start. Power and current
    are None when unknown.
    """

    start: Fraction
    end: Fraction
    kind: PeriodKind
    energy_wh: Fraction
    time_s: Fraction
    parking_s: Fraction
    reservation_s: Fraction
    elapsed_s: Fraction
    energy_before_wh: Fraction
    min_power_kw: Fraction | None = None
    max_power_kw: Fraction | None = None
    min_current_a: Fraction | None = None
    max_current_a: Fraction | None = None


def to_instant(value: datetime) -> Fraction:
    """An aware datetime as exact seconds since the Unix epoch."""
    return Fraction((value - _EPOCH) // _MICROSECOND, 1_000_000)


def to_datetime(instant: Fraction) -> datetime:
    """An instant as a UTC datetime, floored to the microsecond.

    Flooring never moves an instant across a wall-clock boundary, because those fall on whole seconds.
    """
    return _EPOCH + timedelta(microseconds=math.floor(instant * 1_000_000))


def to_decimal(value: Fraction) -> Decimal:
    """A Fraction as a Decimal: exact when it terminates within 28 digits, else to 28 significant digits."""
    with localcontext() as context:
        context.prec = 28
        return Decimal(value.numerator) / Decimal(value.denominator)


def round_money(value: Fraction, options: PricingOptions) -> Decimal:
    """An exact amount rounded once, to the options' decimal places and rounding mode."""
    with localcontext() as context:
        # Enough digits that dividing first cannot decide a rounding the exact value would not.
        context.prec = 80
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal(1).scaleb(-options.decimal_places), rounding=options.rounding)

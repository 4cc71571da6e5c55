"""What the engine answers: priced periods, totals per CDR bucket, and the flags a CDR needs.

Volumes are exact `Decimal`s (28 significant digits where a value does not terminate, e.g. 5 minutes is
0.08333… h). Every money amount is rounded on its own, from its exact value, with the options'
decimal places and rounding mode, so a total can differ from the sum of its rounded parts by the
rounding of those parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from voltbridge.billing.tariffs.models import TariffDimensionType


class PeriodKind(StrEnum):
    """What the EV was doing in a period: this decides TIME versus PARKING_TIME and which elements apply."""

    CHARGING = "CHARGING"
    PARKING = "PARKING"
    RESERVATION = "RESERVATION"


class PricingWarning(StrEnum):
    """Something odd about the input that was priced anyway; the value is a stable code."""

    TARIFF_NOT_ACTIVE = "tariff_not_active_at_session_start"  # outside the Tariff's start/end_date_time
    POWER_UNKNOWN = "power_unknown"  # an element with a power restriction was skipped: no power known
    CURRENT_UNKNOWN = "current_unknown"  # an element with a current restriction was skipped: no current known
    PERIODS_OUTSIDE = "periods_outside_start_end_date_time"  # a CDR period starts outside the CDR
    OTHER_TARIFF = "charging_period_of_other_tariff"  # a CDR period names another tariff_id


class CostBucket(StrEnum):
    """The CDR total a cost is added to."""

    ENERGY = "energy"  # total_energy_cost
    TIME = "time"  # total_time_cost
    PARKING = "parking"  # total_parking_cost (PARKING_TIME and FLAT fees of parking-only elements)
    FIXED = "fixed"  # total_fixed_cost (FLAT fees, except those of parking and reservation elements)
    RESERVATION = "reservation"  # total_reservation_cost (everything priced by reservation elements)


@dataclass(frozen=True, slots=True)
class Cost:
    """An amount of money excluding and including VAT."""

    excl_vat: Decimal
    incl_vat: Decimal


@dataclass(frozen=True, slots=True)
class PricedComponent:
    """One price component applied to one period.

    `volume` is what the period consumed (kWh for ENERGY, hours for TIME/PARKING_TIME, 1 for FLAT);
    `billed_volume` adds the step_size round-up, which lands on the last period priced in its group.
    `element_index` and `component_index` point into `Tariff.elements` and its `price_components`.
    """

    dimension: TariffDimensionType
    element_index: int
    component_index: int
    price: Decimal
    vat: Decimal | None
    step_size: int
    volume: Decimal
    billed_volume: Decimal
    bucket: CostBucket
    cost: Cost


@dataclass(frozen=True, slots=True)
class PricedPeriod:
    """A stretch of the session in which every restriction keeps its value, so one price per dimension holds.

    Power and current are what the restrictions were checked against (None when unknown). For a
    session priced from samples the minimum and maximum are the same held value.
    """

    start: datetime
    end: datetime
    kind: PeriodKind
    energy_kwh: Decimal
    time_h: Decimal
    parking_time_h: Decimal
    reservation_time_h: Decimal
    min_power_kw: Decimal | None
    max_power_kw: Decimal | None
    min_current_a: Decimal | None
    max_current_a: Decimal | None
    components: tuple[PricedComponent, ...]
    cost: Cost


@dataclass(frozen=True, slots=True)
class PricingResult:
    """The price of a session (or of a CDR's charging periods, or a reservation), with CDR-ready totals.

    `total_cost` is the sum of the buckets after `min_price`/`max_price` (flags say whether one of them
    changed it). `total_time_h` is the session duration, charging and parking, without reservation
    time. `warnings` lists what was odd about input that was priced anyway.
    """

    currency: str
    periods: tuple[PricedPeriod, ...]
    energy_cost: Cost
    time_cost: Cost
    parking_cost: Cost
    fixed_cost: Cost
    reservation_cost: Cost
    total_cost: Cost
    total_energy_kwh: Decimal
    total_time_h: Decimal
    total_parking_time_h: Decimal
    total_reservation_time_h: Decimal
    min_price_applied: bool
    max_price_applied: bool
    warnings: tuple[PricingWarning, ...] = ()

"""The Tariff, in the shape of an OCPI 2.2.1 Tariff object, so that OCPI is a translation and not a rewrite.

Money and volumes are `Decimal`, never float. Prices are per unit and exclude VAT; `vat` is a percentage,
and an absent `vat` means that no VAT applies (which is not the same as 0 %, but prices the same).

The invariants the engine relies on are checked here and raise `InvalidInput`: no negative price, VAT or
step size, a Tariff has at least one element and every element at least one price component, and
`min_price` is not above `max_price`. Restrictions are carried as given; an impossible restriction
(say `min_kwh` above `max_kwh`) only means that its element never applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

from voltbridge.core.errors import InvalidInput


class TariffDimensionType(StrEnum):
    """What a price component charges for, and the unit of its price and step_size."""

    ENERGY = "ENERGY"  # price per kWh, step_size in Wh
    FLAT = "FLAT"  # a fixed fee, once per session; step_size has no meaning
    PARKING_TIME = "PARKING_TIME"  # price per hour, step_size in seconds; time connected but not charging
    TIME = (
        "TIME"  # price per hour, step_size in seconds; time charging (or reserved, in reservation elements)
    )


class TariffType(StrEnum):
    """Which sessions a Tariff is for; a Tariff without a type is for every session."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class DayOfWeek(StrEnum):
    """A day of the week in the Location's local time; the order matches `date.weekday()`."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @classmethod
    def of(cls, day: date) -> DayOfWeek:
        """The day of the week of a (local) date."""
        return _DAYS[day.weekday()]


_DAYS = tuple(DayOfWeek)


class ReservationRestrictionType(StrEnum):
    """Marks an element that prices a reservation instead of a charging session."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


@dataclass(frozen=True, slots=True)
class DisplayText:
    """A text in one language (ISO 639-1 code)."""

    language: str
    text: str


@dataclass(frozen=True, slots=True)
class Price:
    """An amount excluding VAT and, when known, including VAT."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def __post_init__(self) -> None:
        if self.excl_vat < 0:
            raise InvalidInput(f"price excl_vat {self.excl_vat} is negative")
        if self.incl_vat is not None and self.incl_vat < self.excl_vat:
            raise InvalidInput(
                f"price incl_vat {self.incl_vat} is below excl_vat {self.excl_vat}; VAT cannot be negative"
            )


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """A price for one dimension: `price` per unit excluding VAT, billed in blocks of `step_size`."""

    type: TariffDimensionType
    price: Decimal
    step_size: int
    vat: Decimal | None = None

    def __post_init__(self) -> None:
        if self.price < 0:
            raise InvalidInput(f"{self.type} price {self.price} is negative")
        if self.vat is not None and self.vat < 0:
            raise InvalidInput(f"{self.type} vat {self.vat} is negative")
        if self.step_size < 0:
            raise InvalidInput(f"{self.type} step_size {self.step_size} is negative")


@dataclass(frozen=True, slots=True)
class TariffRestrictions:
    """Conditions, all of which must hold, for an element to apply at an instant of the session.

    Times and dates are in the Location's local time. Lower bounds are inclusive and upper bounds
    exclusive. An `end_time` of 00:00 means the end of the day; an `end_time` before `start_time` wraps
    past midnight.
    """

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: tuple[DayOfWeek, ...] = ()
    reservation: ReservationRestrictionType | None = None

    def __post_init__(self) -> None:
        for name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidInput(f"restriction {name} {value} is negative")
        for name in ("min_duration", "max_duration"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidInput(f"restriction {name} {value} is negative")

    @property
    def has_clock(self) -> bool:
        """Whether the restriction depends on the local wall clock or calendar."""
        return bool(
            self.start_time is not None
            or self.end_time is not None
            or self.start_date is not None
            or self.end_date is not None
            or self.day_of_week
        )


@dataclass(frozen=True, slots=True)
class TariffElement:
    """Price components that share one set of restrictions."""

    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None

    def __post_init__(self) -> None:
        if not self.price_components:
            raise InvalidInput("a tariff element needs at least one price component")

    def component(self, dimension: TariffDimensionType) -> tuple[int, PriceComponent] | None:
        """The first component of `dimension` in this element, with its index; None if there is none."""
        for index, component in enumerate(self.price_components):
            if component.type is dimension:
                return index, component
        return None

    @property
    def reservation(self) -> ReservationRestrictionType | None:
        """The reservation restriction of this element, if it prices reservations."""
        return self.restrictions.reservation if self.restrictions is not None else None


@dataclass(frozen=True, slots=True)
class EnergySource:
    """One source in an energy mix (category as OCPI names it, e.g. SOLAR), with its percentage."""

    source: str
    percentage: Decimal


@dataclass(frozen=True, slots=True)
class EnvironmentalImpact:
    """An environmental impact of the energy (category as OCPI names it, e.g. CARBON_DIOXIDE), in g/kWh."""

    category: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class EnergyMix:
    """The energy mix a Tariff advertises; carried for OCPI, never used for pricing."""

    is_green_energy: bool
    energy_sources: tuple[EnergySource, ...] = ()
    environ_impact: tuple[EnvironmentalImpact, ...] = ()
    supplier_name: str | None = None
    energy_product_name: str | None = None


@dataclass(frozen=True, slots=True)
class Tariff:
    """A Tariff: a currency, ordered elements, and optional bounds on the total cost of a session.

    `country_code`, `party_id` and `last_updated` are mandatory on the OCPI wire; they are optional here
    because our own API and the test vectors create tariffs without them. `start_date_time` and
    `end_date_time` say when the Tariff is valid (UTC); choosing the Tariff for a session is the
    caller's job (see `is_active_at`).
    """

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    country_code: str | None = None
    party_id: str | None = None
    type: TariffType | None = None
    tariff_alt_text: tuple[DisplayText, ...] = ()
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    energy_mix: EnergyMix | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    last_updated: datetime | None = None

    def __post_init__(self) -> None:
        if not self.elements:
            raise InvalidInput(f"tariff {self.id!r} has no elements")
        if len(self.currency) != 3:
            raise InvalidInput(f"tariff {self.id!r} currency {self.currency!r} is not an ISO 4217 code")
        for name in ("start_date_time", "end_date_time", "last_updated"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidInput(f"tariff {self.id!r} {name} has no time zone")
        low, high = self.min_price, self.max_price
        if low is not None and high is not None:
            if low.excl_vat > high.excl_vat:
                raise InvalidInput(
                    f"tariff {self.id!r} min_price {low.excl_vat} is above max_price {high.excl_vat}"
                )
            if low.incl_vat is not None and high.incl_vat is not None and low.incl_vat > high.incl_vat:
                raise InvalidInput(
                    f"tariff {self.id!r} min_price incl_vat {low.incl_vat} is above max_price "
                    f"incl_vat {high.incl_vat}"
                )

    def is_active_at(self, at: datetime) -> bool:
        """Whether `at` lies in [start_date_time, end_date_time); a missing bound does not limit."""
        if self.start_date_time is not None and at < self.start_date_time:
            return False
        return self.end_date_time is None or at < self.end_date_time

"""The tariff engine: the price of a session, of a CDR's charging periods, or of a reservation.

The algorithm (OCPI 2.2.1 Tariffs and CDRs modules; docs/tariffs.md has the long form and examples):

1. Cut the session into segments at every instant where a restriction could change value (samples,
   local-clock edges and DST changes, min/max_duration, min/max_kwh crossings of the interpolated
   energy, charging/idle changes). A CDR's periods are taken as they are.
2. Per segment and per dimension (ENERGY, TIME, PARKING_TIME) take the first element, in tariff order,
   that has a component of that dimension and whose restrictions all hold at the segment's start.
   No such element: that volume is free. Reservation segments are priced only by elements restricted
   to reservations (TIME and FLAT); for an expired reservation the RESERVATION_EXPIRES elements come
   first, then the RESERVATION ones. Other segments never use reservation elements.
3. FLAT is charged once per session: the first FLAT component found, walking the segments in time
   order (the tandemdrive `multiple_flat_fees` vector). A reservation is a phase of its own, with its
   own FLAT, as the spec's reservation examples add both fees.
4. step_size rounds a group's total volume up once per session, never per period, and the round-up is
   billed at the last period priced in the group: ENERGY is one group; charging and parking time
   follow `PricingOptions.time_step_rule` (default: parking time alone when parking is billed, else
   charging time); reservation time is its own group. `PricingOptions.step_base` says whether free
   volume counts in the total (default: no). A step_size of 0 means no rounding.
5. Cost per component = billed volume x price; incl. VAT = excl x (1 + vat/100), or excl when the
   component has no vat. Costs go to CDR buckets: ENERGY, TIME, PARKING (PARKING_TIME and the FLAT of
   an element that prices only parking), RESERVATION (everything from reservation elements) and FIXED
   (other FLAT fees).
6. The total is the sum of the buckets; then min_price and max_price bound it, excl. and incl. VAT each
   on its own. A bound without incl_vat moves incl. VAT by the session's own VAT ratio (no VAT when
   the session cost nothing), so incl >= excl always holds; such a derived cap never goes below a
   min_price incl_vat the tariff states.
7. Exact arithmetic throughout; each reported amount is rounded once (PricingOptions.decimal_places,
   ROUND_HALF_UP by default).

Where the sources disagree, the defaults (each an option in PricingOptions) are:
- min_price is applied, as the specification says; the tandemdrive vector
  `025kwh_min_price/cdr2_less_than_2kWh` ignores it (0.30 / 0.33 instead of 0.50 / 0.55).
- Charging and parking time: parking alone is rounded when billed (2.2.1 CDR chapter, 2.3.0 and the
  `step_size` vector: 0.55), not charging plus parking together (the 2.2.1 Tariff example: 0.383).
- Only priced volume is rounded (release-2.3.0-bugfixes: 0.73), not free volume too (0.78).
- `day_of_week` is read at the priced instant, also after midnight in a wrapping window.

Choosing the Tariff (connector, TariffType, validity window) is the caller's job; pricing with a Tariff
that is not valid at the session start only adds PricingWarning.TARIFF_NOT_ACTIVE.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from fractions import Fraction

from voltbridge.billing.tariffs.cdr import cdr_segments
from voltbridge.billing.tariffs.models import (
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
)
from voltbridge.billing.tariffs.options import PricingOptions, StepBase, TimeStepRule
from voltbridge.billing.tariffs.restrictions import context_of, restrictions_match
from voltbridge.billing.tariffs.result import (
    Cost,
    CostBucket,
    PeriodKind,
    PricedComponent,
    PricedPeriod,
    PricingResult,
    PricingWarning,
)
from voltbridge.billing.tariffs.session import (
    ChargingSession,
    Reservation,
    SessionSample,
    reservation_segments,
    session_segments,
)
from voltbridge.billing.tariffs.timeline import Segment, round_money, to_datetime, to_decimal, to_instant
from voltbridge.core.errors import InvalidInput

_DEFAULT = PricingOptions()
_ZERO = Fraction(0)
_WH_PER_KWH = 1000
_S_PER_H = 3600


def price_session(
    tariff: Tariff, session: ChargingSession, options: PricingOptions = _DEFAULT
) -> PricingResult:
    """The price of a (finished or running) session described by meter samples, and its reservation."""
    segments: list[Segment] = []
    first = session.start
    if session.reservation is not None:
        segments.extend(reservation_segments(tariff, session.reservation, session.tz))
        first = session.reservation.start
    segments.extend(session_segments(tariff, session))
    warnings = _validity_warnings(tariff, first)
    total_time = to_instant(session.end) - to_instant(session.start)
    return _price(
        tariff, segments, session.tz, options, expired=False, total_time_s=total_time, warnings=warnings
    )


def running_cost(
    tariff: Tariff,
    samples_so_far: Sequence[SessionSample],
    now: datetime,
    tz: tzinfo,
    *,
    start: datetime | None = None,
    reservation: Reservation | None = None,
    options: PricingOptions = _DEFAULT,
) -> PricingResult:
    """The cost of a session still in progress, as if it ended `now` (the same computation as the end).

    `start` defaults to the first sample's time. Energy is taken as flat after the last sample, so the
    answer only grows with time-based components until the next sample arrives.
    """
    if not samples_so_far:
        raise InvalidInput("a running session needs at least one sample (the meter start)")
    session = ChargingSession(
        start=start if start is not None else samples_so_far[0].at,
        end=now,
        samples=samples_so_far,
        tz=tz,
        reservation=reservation,
    )
    return price_session(tariff, session, options)


def price_reservation(
    tariff: Tariff, reservation: Reservation, options: PricingOptions = _DEFAULT, *, tz: tzinfo
) -> PricingResult:
    """The price of a reservation that did not become a charging session (expired, or not)."""
    segments = reservation_segments(tariff, reservation, tz)
    warnings = _validity_warnings(tariff, reservation.start)
    return _price(
        tariff, segments, tz, options, expired=reservation.expired, total_time_s=_ZERO, warnings=warnings
    )


def price_cdr_periods(
    tariff: Tariff,
    cdr: Mapping[str, object],
    options: PricingOptions = _DEFAULT,
    *,
    tz: tzinfo,
    reservation_expired: bool | None = None,
) -> PricingResult:
    """Re-price an OCPI CDR (its decoded JSON) from its `charging_periods` with `tariff`.

    `tz` is the Location's time zone (a CDR does not carry it). `reservation_expired` defaults to
    "the CDR has only reservation periods", the CDR of a reservation that never became a session.
    """
    timeline = cdr_segments(cdr, tariff.id)
    expired = timeline.only_reservation if reservation_expired is None else reservation_expired
    first = min(to_datetime(timeline.segments[0].start), timeline.session_start)
    warnings = timeline.warnings | _validity_warnings(tariff, first)
    return _price(
        tariff,
        timeline.segments,
        tz,
        options,
        expired=expired,
        total_time_s=timeline.total_time_s,
        warnings=warnings,
    )


def _validity_warnings(tariff: Tariff, first: datetime) -> set[PricingWarning]:
    return set() if tariff.is_active_at(first) else {PricingWarning.TARIFF_NOT_ACTIVE}


@dataclass(slots=True)
class _Line:
    """One component applied to one segment; `extra` is the step_size round-up billed here."""

    segment: int
    dimension: TariffDimensionType
    element_index: int
    component_index: int
    component: PriceComponent
    volume: Fraction
    bucket: CostBucket
    extra: Fraction = _ZERO

    @property
    def billed(self) -> Fraction:
        return self.volume + self.extra

    @property
    def excl_vat(self) -> Fraction:
        return self.billed * Fraction(self.component.price)

    def with_vat(self, excl_vat: Fraction) -> Fraction:
        vat = self.component.vat
        return excl_vat if vat is None else excl_vat * (1 + Fraction(vat) / 100)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """An element that may price a segment, with its first component of each dimension."""

    index: int
    element: TariffElement
    components: dict[TariffDimensionType, tuple[int, PriceComponent]]


def _candidates(pairs: Sequence[tuple[int, TariffElement]]) -> list[_Candidate]:
    out = []
    for index, element in pairs:
        components: dict[TariffDimensionType, tuple[int, PriceComponent]] = {}
        for position, component in enumerate(element.price_components):
            components.setdefault(component.type, (position, component))
        out.append(_Candidate(index, element, components))
    return out


def _price(
    tariff: Tariff,
    segments: Sequence[Segment],
    tz: tzinfo,
    options: PricingOptions,
    *,
    expired: bool,
    total_time_s: Fraction,
    warnings: set[PricingWarning],
) -> PricingResult:
    indexed = list(enumerate(tariff.elements))
    session_elements = [(i, e) for i, e in indexed if e.reservation is None]
    reservation_elements = [
        (i, e) for i, e in indexed if e.reservation is ReservationRestrictionType.RESERVATION
    ]
    if expired:
        expiry = [
            (i, e) for i, e in indexed if e.reservation is ReservationRestrictionType.RESERVATION_EXPIRES
        ]
        reservation_elements = expiry + reservation_elements
    for_session, for_reservation = _candidates(session_elements), _candidates(reservation_elements)

    lines: list[_Line] = []
    flat_charged: set[bool] = set()  # phases (is_reservation) whose FLAT fee is already charged
    for index, segment in enumerate(segments):
        is_reservation = segment.kind is PeriodKind.RESERVATION
        find = _finder(for_reservation if is_reservation else for_session, segment, tz, options, warnings)
        if is_reservation not in flat_charged:
            hit = find(TariffDimensionType.FLAT)
            if hit is not None:
                element_index, component_index, component = hit
                bucket = _flat_bucket(tariff.elements[element_index], is_reservation)
                lines.append(
                    _Line(
                        index, component.type, element_index, component_index, component, Fraction(1), bucket
                    )
                )
                flat_charged.add(is_reservation)
        for dimension, volume in _volumes(segment):
            if volume <= 0:
                continue
            hit = find(dimension)
            if hit is not None:
                element_index, component_index, component = hit
                bucket = CostBucket.RESERVATION if is_reservation else _BUCKETS[dimension]
                lines.append(
                    _Line(index, dimension, element_index, component_index, component, volume, bucket)
                )

    _apply_step_sizes(lines, segments, options)
    return _result(tariff, segments, lines, options, total_time_s, warnings)


def _finder(
    candidates: list[_Candidate],
    segment: Segment,
    tz: tzinfo,
    options: PricingOptions,
    warnings: set[PricingWarning],
) -> Callable[[TariffDimensionType], tuple[int, int, PriceComponent] | None]:
    context = context_of(segment, tz)
    holds: dict[int, bool] = {}

    def find(dimension: TariffDimensionType) -> tuple[int, int, PriceComponent] | None:
        for candidate in candidates:
            found = candidate.components.get(dimension)
            if found is None:
                continue
            if candidate.index not in holds:
                # Checked lazily, so an element that is never reached cannot raise an "unknown power" warning.
                holds[candidate.index] = restrictions_match(
                    candidate.element.restrictions, context, options.day_of_week_anchor, warnings
                )
            if holds[candidate.index]:
                return candidate.index, found[0], found[1]
        return None

    return find


_BUCKETS = {
    TariffDimensionType.ENERGY: CostBucket.ENERGY,
    TariffDimensionType.TIME: CostBucket.TIME,
    TariffDimensionType.PARKING_TIME: CostBucket.PARKING,
}


def _volumes(segment: Segment) -> list[tuple[TariffDimensionType, Fraction]]:
    if segment.kind is PeriodKind.RESERVATION:
        return [(TariffDimensionType.TIME, segment.reservation_s / _S_PER_H)]
    return [
        (TariffDimensionType.ENERGY, segment.energy_wh / _WH_PER_KWH),
        (TariffDimensionType.TIME, segment.time_s / _S_PER_H),
        (TariffDimensionType.PARKING_TIME, segment.parking_s / _S_PER_H),
    ]


def _flat_bucket(element: TariffElement, is_reservation: bool) -> CostBucket:
    if is_reservation:
        return CostBucket.RESERVATION
    kinds = {component.type for component in element.price_components}
    # A fee in an element that prices only parking is a parking fee (CDR total_parking_cost
    # "including fixed price components"); any other FLAT is a fixed cost such as a start fee.
    if TariffDimensionType.PARKING_TIME in kinds and not kinds & {
        TariffDimensionType.ENERGY,
        TariffDimensionType.TIME,
    }:
        return CostBucket.PARKING
    return CostBucket.FIXED


def _apply_step_sizes(lines: list[_Line], segments: Sequence[Segment], options: PricingOptions) -> None:
    def is_reservation(line: _Line) -> bool:
        return segments[line.segment].kind is PeriodKind.RESERVATION

    session_segments = [s for s in segments if s.kind is not PeriodKind.RESERVATION]
    energy = [ln for ln in lines if ln.dimension is TariffDimensionType.ENERGY and not is_reservation(ln)]
    _round_up(energy, _WH_PER_KWH, sum((s.energy_wh for s in session_segments), _ZERO), options.step_base)

    time = [ln for ln in lines if ln.dimension is TariffDimensionType.TIME and not is_reservation(ln)]
    parking = [ln for ln in lines if ln.dimension is TariffDimensionType.PARKING_TIME]
    all_time = sum((s.time_s for s in session_segments), _ZERO)
    all_parking = sum((s.parking_s for s in session_segments), _ZERO)
    if options.time_step_rule is TimeStepRule.TIME_AND_PARKING_TOGETHER:
        timed = (TariffDimensionType.TIME, TariffDimensionType.PARKING_TIME)
        together = [ln for ln in lines if ln.dimension in timed and not is_reservation(ln)]
        _round_up(together, _S_PER_H, all_time + all_parking, options.step_base)
    elif parking:
        _round_up(parking, _S_PER_H, all_parking, options.step_base)
    else:
        _round_up(time, _S_PER_H, all_time, options.step_base)

    reserved = [ln for ln in lines if ln.dimension is TariffDimensionType.TIME and is_reservation(ln)]
    all_reserved = sum((s.reservation_s for s in segments), _ZERO)
    _round_up(reserved, _S_PER_H, all_reserved, options.step_base)


def _round_up(group: list[_Line], unit: int, all_volume: Fraction, base: StepBase) -> None:
    """Round a group's total up to the step_size of its last line, and bill the difference there.

    `unit` converts the price unit (kWh, h) to the step_size unit (Wh, s); `all_volume` is already in it.
    """
    if not group:
        return
    last = group[-1]
    step = last.component.step_size
    if step <= 0:
        return
    volume = sum((ln.volume for ln in group), _ZERO) * unit if base is StepBase.PRICED else all_volume
    target = math.ceil(volume / step) * step
    last.extra += (target - volume) / unit


def _result(
    tariff: Tariff,
    segments: Sequence[Segment],
    lines: list[_Line],
    options: PricingOptions,
    total_time_s: Fraction,
    warnings: set[PricingWarning],
) -> PricingResult:
    def cost(excl: Fraction, incl: Fraction) -> Cost:
        return Cost(excl_vat=round_money(excl, options), incl_vat=round_money(incl, options))

    # Each line's exact amounts, computed once: (line, excl. VAT, incl. VAT).
    by_segment: dict[int, list[tuple[_Line, Fraction, Fraction]]] = {}
    for line in lines:
        excl = line.excl_vat
        by_segment.setdefault(line.segment, []).append((line, excl, line.with_vat(excl)))
    periods = []
    for index, segment in enumerate(segments):
        own = by_segment.get(index, [])
        components = tuple(
            PricedComponent(
                dimension=ln.dimension,
                element_index=ln.element_index,
                component_index=ln.component_index,
                price=ln.component.price,
                vat=ln.component.vat,
                step_size=ln.component.step_size,
                volume=to_decimal(ln.volume),
                billed_volume=to_decimal(ln.billed),
                bucket=ln.bucket,
                cost=cost(excl, incl),
            )
            for ln, excl, incl in own
        )
        periods.append(
            PricedPeriod(
                start=to_datetime(segment.start),
                end=to_datetime(segment.end),
                kind=segment.kind,
                energy_kwh=to_decimal(segment.energy_wh / _WH_PER_KWH),
                time_h=to_decimal(segment.time_s / _S_PER_H),
                parking_time_h=to_decimal(segment.parking_s / _S_PER_H),
                reservation_time_h=to_decimal(segment.reservation_s / _S_PER_H),
                min_power_kw=None if segment.min_power_kw is None else to_decimal(segment.min_power_kw),
                max_power_kw=None if segment.max_power_kw is None else to_decimal(segment.max_power_kw),
                min_current_a=None if segment.min_current_a is None else to_decimal(segment.min_current_a),
                max_current_a=None if segment.max_current_a is None else to_decimal(segment.max_current_a),
                components=components,
                cost=cost(sum((excl for _, excl, _ in own), _ZERO), sum((incl for _, _, incl in own), _ZERO)),
            )
        )

    buckets = {bucket: (_ZERO, _ZERO) for bucket in CostBucket}
    for own in by_segment.values():
        for line, excl, incl in own:
            total_excl, total_incl = buckets[line.bucket]
            buckets[line.bucket] = (total_excl + excl, total_incl + incl)
    total_excl = sum((excl for excl, _ in buckets.values()), _ZERO)
    total_incl = sum((incl for _, incl in buckets.values()), _ZERO)
    total_excl, total_incl, min_applied, max_applied = _bound(tariff, options, total_excl, total_incl)

    session_segments = [s for s in segments if s.kind is not PeriodKind.RESERVATION]
    return PricingResult(
        currency=tariff.currency,
        periods=tuple(periods),
        energy_cost=cost(*buckets[CostBucket.ENERGY]),
        time_cost=cost(*buckets[CostBucket.TIME]),
        parking_cost=cost(*buckets[CostBucket.PARKING]),
        fixed_cost=cost(*buckets[CostBucket.FIXED]),
        reservation_cost=cost(*buckets[CostBucket.RESERVATION]),
        total_cost=cost(total_excl, total_incl),
        total_energy_kwh=to_decimal(sum((s.energy_wh for s in session_segments), _ZERO) / _WH_PER_KWH),
        total_time_h=to_decimal(total_time_s / _S_PER_H),
        total_parking_time_h=to_decimal(sum((s.parking_s for s in session_segments), _ZERO) / _S_PER_H),
        total_reservation_time_h=to_decimal(sum((s.reservation_s for s in segments), _ZERO) / _S_PER_H),
        min_price_applied=min_applied,
        max_price_applied=max_applied,
        warnings=tuple(sorted(warnings)),
    )


def _bound(
    tariff: Tariff, options: PricingOptions, excl: Fraction, incl: Fraction
) -> tuple[Fraction, Fraction, bool, bool]:
    """Apply min_price, then max_price, to excl. and incl. VAT each (both must hold)."""
    min_applied = max_applied = False
    low = tariff.min_price if options.apply_min_price else None
    if low is not None:
        floor_excl = Fraction(low.excl_vat)
        if low.incl_vat is not None:
            floor_incl = Fraction(low.incl_vat)
        else:
            # No incl. VAT bound given: the raised total carries the session's own VAT ratio.
            floor_incl = floor_excl * (incl / excl) if excl > 0 else floor_excl
        if excl < floor_excl or incl < floor_incl:
            min_applied = True
            excl, incl = max(excl, floor_excl), max(incl, floor_incl)
    high = tariff.max_price if options.apply_max_price else None
    if high is not None:
        cap_excl = Fraction(high.excl_vat)
        if high.incl_vat is not None:
            cap_incl = Fraction(high.incl_vat)
        else:
            cap_incl = cap_excl * (incl / excl) if excl > 0 else cap_excl
            # A cap derived from the VAT ratio must not undo a minimum incl. VAT the tariff states.
            if low is not None and low.incl_vat is not None:
                cap_incl = max(cap_incl, Fraction(low.incl_vat))
        if excl > cap_excl or incl > cap_incl:
            max_applied = True
            excl, incl = min(excl, cap_excl), min(incl, cap_incl)
    return excl, incl, min_applied, max_applied

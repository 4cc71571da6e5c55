"""Reading an OCPI CDR's `charging_periods` as segments, to re-price a CDR with a Tariff.

A CDR's periods are taken as given: their volumes are priced as sent, and restrictions are checked at
each period's start (local time, time since the session start, energy before the period, and the
period's power or current). A period that spans a restriction boundary is not split, because how
its volume spreads over the period is unknown; a correct CDR is already cut there.

- A period with RESERVATION_TIME is a reservation period; one with TIME or ENERGY a charging period;
  one with only PARKING_TIME a parking period.
- The session starts at the first non-reservation period. Without reservation periods it starts at
  the CDR's start_date_time, or earlier if a period does (warning `periods_outside_start_end_date_time`).
- Power for power restrictions: MIN_POWER / MAX_POWER (either stands in for the other), else POWER,
  else the period's average (ENERGY over TIME, or over its duration). Current: MIN_CURRENT /
  MAX_CURRENT, else CURRENT; there is no average current.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from voltbridge.billing.tariffs.result import PeriodKind, PricingWarning
from voltbridge.billing.tariffs.timeline import Segment, to_instant
from voltbridge.billing.tariffs.wire import parse_datetime, parse_decimal
from voltbridge.core.errors import InvalidInput

# CdrDimensionType of 2.2.1, plus FLAT from 2.1.1 (the tariff, not the CDR, decides the flat fee).
_KNOWN = frozenset(
    {
        "CURRENT",
        "ENERGY",
        "ENERGY_EXPORT",
        "ENERGY_IMPORT",
        "MAX_CURRENT",
        "MIN_CURRENT",
        "MAX_POWER",
        "MIN_POWER",
        "PARKING_TIME",
        "POWER",
        "RESERVATION_TIME",
        "STATE_OF_CHARGE",
        "TIME",
        "FLAT",
    }
)
_SUMMED = frozenset({"ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME"})


@dataclass(slots=True)
class CdrTimeline:
    """The segments of a CDR, with what the engine needs beyond them."""

    segments: list[Segment]
    total_time_s: Fraction
    session_start: datetime
    only_reservation: bool
    warnings: set[PricingWarning] = field(default_factory=set)


@dataclass(slots=True)
class _Period:
    start: datetime
    volumes: dict[str, Fraction]
    lows: dict[str, Fraction]
    highs: dict[str, Fraction]
    samples: dict[str, Fraction]
    tariff_id: str | None


def cdr_segments(cdr: Mapping[str, object], tariff_id: str) -> CdrTimeline:
    """Read a CDR's start, end and charging periods; raise `InvalidInput` naming the bad field."""
    if not isinstance(cdr, Mapping):
        raise InvalidInput(f"cdr: expected an object, got {type(cdr).__name__}")
    cdr_start = parse_datetime(cdr.get("start_date_time"), "cdr.start_date_time")
    cdr_end = parse_datetime(cdr.get("end_date_time"), "cdr.end_date_time")
    if cdr_end < cdr_start:
        raise InvalidInput(f"cdr.end_date_time {cdr_end.isoformat()} is before start_date_time")
    raw_periods = cdr.get("charging_periods")
    if isinstance(raw_periods, str | bytes) or not isinstance(raw_periods, Sequence) or not raw_periods:
        raise InvalidInput("cdr.charging_periods: expected a non-empty list")
    periods = [_read_period(item, f"cdr.charging_periods[{i}]") for i, item in enumerate(raw_periods)]
    for i in range(1, len(periods)):
        if periods[i].start < periods[i - 1].start:
            raise InvalidInput(f"cdr.charging_periods[{i}] starts before the period before it")

    warnings: set[PricingWarning] = set()
    if any(not cdr_start <= p.start <= cdr_end for p in periods):
        warnings.add(PricingWarning.PERIODS_OUTSIDE)
    if any(p.tariff_id is not None and p.tariff_id != tariff_id for p in periods):
        warnings.add(PricingWarning.OTHER_TARIFF)

    kinds = [_kind(p, f"cdr.charging_periods[{i}]") for i, p in enumerate(periods)]
    session_starts = [p.start for p, k in zip(periods, kinds, strict=True) if k is not PeriodKind.RESERVATION]
    reservation_starts = [p.start for p, k in zip(periods, kinds, strict=True) if k is PeriodKind.RESERVATION]
    if not session_starts:
        session_start = cdr_end
    elif reservation_starts:
        session_start = session_starts[0]
    else:
        session_start = min(cdr_start, session_starts[0])
    reservation_start = reservation_starts[0] if reservation_starts else session_start

    segments: list[Segment] = []
    energy_before = Fraction(0)
    for i, (period, kind) in enumerate(zip(periods, kinds, strict=True)):
        start = to_instant(period.start)
        end = to_instant(periods[i + 1].start) if i + 1 < len(periods) else to_instant(cdr_end)
        end = max(end, start)
        energy = period.volumes.get("ENERGY", Fraction(0)) * 1000
        time_s = period.volumes.get("TIME", Fraction(0)) * 3600
        phase_start = reservation_start if kind is PeriodKind.RESERVATION else session_start
        low_power, high_power = _bounds(period, "POWER")
        if low_power is None and energy > 0:
            hours = time_s / 3600 if time_s > 0 else (end - start) / 3600
            if hours > 0:
                low_power = high_power = energy / 1000 / hours
        low_current, high_current = _bounds(period, "CURRENT")
        segments.append(
            Segment(
                start=start,
                end=end,
                kind=kind,
                energy_wh=energy,
                time_s=time_s,
                parking_s=period.volumes.get("PARKING_TIME", Fraction(0)) * 3600,
                reservation_s=period.volumes.get("RESERVATION_TIME", Fraction(0)) * 3600,
                elapsed_s=start - to_instant(phase_start),
                energy_before_wh=energy_before,
                min_power_kw=low_power,
                max_power_kw=high_power,
                min_current_a=low_current,
                max_current_a=high_current,
            )
        )
        if kind is not PeriodKind.RESERVATION:
            energy_before += energy
    total_time = to_instant(cdr_end) - to_instant(session_start) if session_starts else Fraction(0)
    return CdrTimeline(
        segments=segments,
        total_time_s=max(total_time, Fraction(0)),
        session_start=session_start,
        only_reservation=not session_starts,
        warnings=warnings,
    )


def _read_period(item: object, path: str) -> _Period:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{path}: expected an object, got {item!r}")
    start = parse_datetime(item.get("start_date_time"), f"{path}.start_date_time")
    raw_dimensions = item.get("dimensions")
    if isinstance(raw_dimensions, str | bytes) or not isinstance(raw_dimensions, Sequence):
        raise InvalidInput(f"{path}.dimensions: expected a list")
    volumes: dict[str, Fraction] = {}
    lows: dict[str, Fraction] = {}
    highs: dict[str, Fraction] = {}
    samples: dict[str, Fraction] = {}
    for j, dimension in enumerate(raw_dimensions):
        where = f"{path}.dimensions[{j}]"
        if not isinstance(dimension, Mapping):
            raise InvalidInput(f"{where}: expected an object, got {dimension!r}")
        kind = dimension.get("type")
        if not isinstance(kind, str) or kind not in _KNOWN:
            raise InvalidInput(f"{where}.type: {kind!r} is not a CdrDimensionType")
        volume = Fraction(parse_decimal(dimension.get("volume"), f"{where}.volume"))
        if kind in _SUMMED:
            if volume < 0:
                raise InvalidInput(f"{where}.volume {float(volume)} is negative")
            volumes[kind] = volumes.get(kind, Fraction(0)) + volume
        elif kind.startswith("MIN_"):
            lows[kind[4:]] = min(volume, lows.get(kind[4:], volume))
        elif kind.startswith("MAX_"):
            highs[kind[4:]] = max(volume, highs.get(kind[4:], volume))
        elif kind in ("POWER", "CURRENT"):
            samples.setdefault(kind, volume)
    tariff_id = item.get("tariff_id")
    return _Period(start, volumes, lows, highs, samples, tariff_id if isinstance(tariff_id, str) else None)


def _bounds(period: _Period, quantity: str) -> tuple[Fraction | None, Fraction | None]:
    low, high = period.lows.get(quantity), period.highs.get(quantity)
    sample = period.samples.get(quantity)
    if low is None:
        low = high if high is not None else sample
    if high is None:
        high = low
    return low, high


def _kind(period: _Period, path: str) -> PeriodKind:
    volumes = period.volumes
    if volumes.get("RESERVATION_TIME", 0) > 0:
        if any(volumes.get(k, 0) > 0 for k in ("ENERGY", "TIME", "PARKING_TIME")):
            raise InvalidInput(f"{path} mixes RESERVATION_TIME with charging or parking volumes")
        return PeriodKind.RESERVATION
    if volumes.get("TIME", 0) > 0 or volumes.get("ENERGY", 0) > 0:
        return PeriodKind.CHARGING
    if volumes.get("PARKING_TIME", 0) > 0:
        return PeriodKind.PARKING
    return PeriodKind.CHARGING

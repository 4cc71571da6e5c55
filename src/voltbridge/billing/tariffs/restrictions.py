"""Whether a TariffElement's restrictions hold at the start of a segment, and where they can change.

All restrictions of an element must hold (AND). Lower bounds are inclusive, upper bounds exclusive.
A restriction on power or current holds only when the value is known: an element that asks for it is
skipped when the meter did not report it, and the engine warns about it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from fractions import Fraction

from voltbridge.billing.tariffs.models import DayOfWeek, TariffElement, TariffRestrictions
from voltbridge.billing.tariffs.options import DayOfWeekAnchor
from voltbridge.billing.tariffs.result import PricingWarning
from voltbridge.billing.tariffs.timeline import Segment, to_datetime

_MIDNIGHT = time(0, 0)


@dataclass(frozen=True, slots=True)
class Context:
    """What restrictions are checked against: the state at the start of a segment."""

    local: datetime
    elapsed_s: Fraction
    energy_before_wh: Fraction
    min_power_kw: Fraction | None
    max_power_kw: Fraction | None
    min_current_a: Fraction | None
    max_current_a: Fraction | None


def context_of(segment: Segment, tz: tzinfo) -> Context:
    """The restriction context at the start of `segment`, with the wall clock of `tz`."""
    return Context(
        local=to_datetime(segment.start).astimezone(tz),
        elapsed_s=segment.elapsed_s,
        energy_before_wh=segment.energy_before_wh,
        min_power_kw=segment.min_power_kw,
        max_power_kw=segment.max_power_kw,
        min_current_a=segment.min_current_a,
        max_current_a=segment.max_current_a,
    )


def restrictions_match(
    restrictions: TariffRestrictions | None,
    context: Context,
    anchor: DayOfWeekAnchor,
    warnings: set[PricingWarning],
) -> bool:
    """Whether every restriction holds in `context`; notes unknown power/current in `warnings`."""
    if restrictions is None:
        return True
    r = restrictions
    local_day = context.local.date()
    in_tail = False
    if r.start_time is not None or r.end_time is not None:
        inside, in_tail = _in_time_window(r.start_time, r.end_time, context.local.time())
        if not inside:
            return False
    if r.start_date is not None and local_day < r.start_date:
        return False
    if r.end_date is not None and local_day >= r.end_date:
        return False
    if r.day_of_week:
        day = local_day
        if in_tail and anchor is DayOfWeekAnchor.WINDOW_START:
            day -= timedelta(days=1)
        if DayOfWeek.of(day) not in r.day_of_week:
            return False
    energy_kwh = context.energy_before_wh / 1000
    if r.min_kwh is not None and energy_kwh < Fraction(r.min_kwh):
        return False
    if r.max_kwh is not None and energy_kwh >= Fraction(r.max_kwh):
        return False
    if r.min_duration is not None and context.elapsed_s < r.min_duration:
        return False
    if r.max_duration is not None and context.elapsed_s >= r.max_duration:
        return False
    if r.min_power is not None or r.max_power is not None:
        if context.min_power_kw is None or context.max_power_kw is None:
            warnings.add(PricingWarning.POWER_UNKNOWN)
            return False
        if r.min_power is not None and context.min_power_kw < Fraction(r.min_power):
            return False
        if r.max_power is not None and context.max_power_kw >= Fraction(r.max_power):
            return False
    if r.min_current is not None or r.max_current is not None:
        if context.min_current_a is None or context.max_current_a is None:
            warnings.add(PricingWarning.CURRENT_UNKNOWN)
            return False
        if r.min_current is not None and context.min_current_a < Fraction(r.min_current):
            return False
        if r.max_current is not None and context.max_current_a >= Fraction(r.max_current):
            return False
    return True


def _in_time_window(start: time | None, end: time | None, now: time) -> tuple[bool, bool]:
    """Whether `now` is in the daily window, and whether it is in the after-midnight part of a wrap.

    A missing start is 00:00; a missing end, or 00:00, is the end of the day. An end at or before the
    start wraps past midnight, so equal start and end cover the whole day.
    """
    low = start if start is not None else _MIDNIGHT
    if end is None or end == _MIDNIGHT:
        return now >= low, False
    if end > low:
        return low <= now < end, False
    if now >= low:
        return True, False
    return now < end, now < end


def needs_clock(elements: Iterable[TariffElement]) -> bool:
    """Whether any element depends on the wall clock or calendar."""
    return any(e.restrictions is not None and e.restrictions.has_clock for e in elements)


def times_of_day(elements: Iterable[TariffElement]) -> set[time]:
    """Every start_time and end_time the elements name."""
    marks: set[time] = set()
    for element in elements:
        r = element.restrictions
        if r is not None:
            marks.update(t for t in (r.start_time, r.end_time) if t is not None)
    return marks


def duration_marks(elements: Iterable[TariffElement]) -> set[int]:
    """Every min_duration and max_duration (seconds) the elements name."""
    marks: set[int] = set()
    for element in elements:
        r = element.restrictions
        if r is not None:
            marks.update(d for d in (r.min_duration, r.max_duration) if d is not None)
    return marks


def energy_marks_wh(elements: Iterable[TariffElement]) -> set[Fraction]:
    """Every min_kwh and max_kwh the elements name, in Wh."""
    marks: set[Fraction] = set()
    for element in elements:
        r = element.restrictions
        if r is not None:
            marks.update(Fraction(k) * 1000 for k in (r.min_kwh, r.max_kwh) if k is not None)
    return marks

"""Where the Location's wall clock crosses a restriction's time of day, midnight, or a DST change.

Restrictions on time of day, date and day of week are conditions on the local wall clock. Between two
consecutive instants returned here the wall clock moves forward without jumps and passes none of the
given times of day, so every such condition keeps one value; the engine cuts the session there.

A wall time that occurs twice (the hour repeated when DST ends) yields both instants; one that does
not occur (the hour skipped when DST starts) is never reached, and the clock's jump over it is cut by
the offset change itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo

_SCAN_STEP = timedelta(hours=1)


def clock_cuts(start: datetime, end: datetime, tz: tzinfo, times_of_day: Iterable[time]) -> list[datetime]:
    """UTC instants strictly between `start` and `end` where a wall-clock condition may change value."""
    marks = set(times_of_day) | {time(0, 0)}
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    cuts: set[datetime] = set()
    day = first
    while day <= last:
        for mark in marks:
            for fold in (0, 1):
                local = datetime.combine(day, mark, tzinfo=tz).replace(fold=fold)
                instant = local.astimezone(UTC)
                if start < instant < end:
                    cuts.add(instant)
        day += timedelta(days=1)
    cuts.update(offset_changes(start, end, tz))
    return sorted(cuts)


def offset_changes(start: datetime, end: datetime, tz: tzinfo) -> list[datetime]:
    """UTC instants strictly between `start` and `end` at which the zone's UTC offset changes."""
    if isinstance(tz, timezone):
        return []
    changes: list[datetime] = []
    low = start.astimezone(UTC)
    low_offset = low.astimezone(tz).utcoffset()
    stop = end.astimezone(UTC)
    # Zones change offset at most a few times a year and never twice within an hour, so an hourly
    # scan finds every change; a bisection on whole seconds then finds the exact instant.
    while low < stop:
        high = min(low + _SCAN_STEP, stop)
        high_offset = high.astimezone(tz).utcoffset()
        if high_offset != low_offset:
            change = _bisect_change(low, high, low_offset, tz)
            if start < change < end:
                changes.append(change)
        low, low_offset = high, high_offset
    return changes


def _bisect_change(low: datetime, high: datetime, low_offset: timedelta | None, tz: tzinfo) -> datetime:
    """The first whole second in (low, high] whose offset differs from `low_offset`."""
    lo = int(low.timestamp() // 1)
    hi = -int(-high.timestamp() // 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == low_offset:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)

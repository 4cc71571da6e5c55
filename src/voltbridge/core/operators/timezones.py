"""Time zones: checking IANA names, and cutting UTC instants into local days and months.

Times are stored in UTC (ARCHITECTURE.md); an operator's zone applies at the edges. A local day is
not always 24 hours long: in Europe/Amsterdam the last Sunday of October has 25, the last Sunday of
March 23. Every boundary here is computed from the local calendar, then converted to UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voltbridge.core.errors import InvalidInput


class GroupBy(StrEnum):
    """The length of a report period, in the local calendar."""

    DAY = "day"
    MONTH = "month"


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The zone of an IANA name that `check_timezone` accepted."""
    return ZoneInfo(name)


def check_timezone(name: str) -> str:
    """The IANA name, unchanged, if it names a zone; InvalidInput otherwise.

    Loading the zone is the check (zoneinfo refuses paths, directories and files that are not
    zones); listing every available zone instead would read the whole database on first use.
    """
    problem = f"time zone {name!r} is not an IANA time zone name (e.g. Europe/Amsterdam)"
    if not name or name != name.strip() or name == "posixrules":
        raise InvalidInput(problem)
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(problem) from exc
    return name


@dataclass(frozen=True, slots=True)
class Period:
    """One local day or month: its label and its bounds as UTC instants (end exclusive)."""

    label: str  # 2025-10-26 or 2025-10
    start: datetime
    end: datetime


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The first instant of a local day, in UTC.

    On a day whose midnight falls in a DST gap, PEP 495's fold=0 reading maps it to the instant of
    the transition, which is indeed when that day begins.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def period_of(at: datetime, tz: tzinfo, group_by: GroupBy) -> Period:
    """The local day or month that contains the instant `at`."""
    local = at.astimezone(tz).date()
    if group_by is GroupBy.DAY:
        first, after = local, date.fromordinal(local.toordinal() + 1)
        label = local.isoformat()
    else:
        first = local.replace(day=1)
        after = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        label = f"{first.year:04d}-{first.month:02d}"
    return Period(label, local_midnight(first, tz), local_midnight(after, tz))


def local_iso(at: datetime, tz: tzinfo) -> str:
    """The instant as local wall time with its offset, e.g. 2025-10-26T02:30:00+01:00."""
    return at.astimezone(tz).isoformat(timespec="seconds")

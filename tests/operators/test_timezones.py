"""Local days and months as UTC bounds: long, short and midnight-less days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from voltbridge.core.errors import InvalidInput
from voltbridge.core.operators.timezones import GroupBy, check_timezone, local_iso, local_midnight, period_of

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_the_day_summer_time_ends_lasts_25_hours_and_the_day_it_starts_23() -> None:
    autumn = period_of(datetime(2025, 10, 26, 12, tzinfo=UTC), AMSTERDAM, GroupBy.DAY)
    spring = period_of(datetime(2025, 3, 30, 12, tzinfo=UTC), AMSTERDAM, GroupBy.DAY)
    assert (autumn.label, autumn.end - autumn.start) == ("2025-10-26", timedelta(hours=25))
    assert (spring.label, spring.end - spring.start) == ("2025-03-30", timedelta(hours=23))
    assert local_iso(autumn.start, AMSTERDAM) == "2025-10-26T00:00:00+02:00"
    assert local_iso(autumn.end, AMSTERDAM) == "2025-10-27T00:00:00+01:00"


def test_a_day_without_a_midnight_begins_when_the_clocks_jump() -> None:
    # Santiago de Chile skipped from 00:00 to 01:00 on 2022-09-11 (at 04:00 UTC).
    santiago = ZoneInfo("America/Santiago")
    assert local_midnight(date(2022, 9, 11), santiago) == datetime(2022, 9, 11, 4, tzinfo=UTC)
    assert period_of(datetime(2022, 9, 11, 3, 59, tzinfo=UTC), santiago, GroupBy.DAY).label == "2022-09-10"
    assert period_of(datetime(2022, 9, 11, 4, 0, tzinfo=UTC), santiago, GroupBy.DAY).label == "2022-09-11"


def test_a_month_is_cut_at_local_midnight_and_the_year_rolls_over() -> None:
    new_year = period_of(datetime(2025, 12, 31, 23, 30, tzinfo=UTC), AMSTERDAM, GroupBy.MONTH)
    assert (new_year.label, new_year.start, new_year.end) == (
        "2026-01",
        datetime(2025, 12, 31, 23, tzinfo=UTC),
        datetime(2026, 1, 31, 23, tzinfo=UTC),
    )


@pytest.mark.parametrize("name", ["Europe/Amsterdam", "America/New_York", "UTC", "Asia/Kathmandu"])
def test_iana_names_are_accepted(name: str) -> None:
    assert check_timezone(name) == name


@pytest.mark.parametrize(
    "name", ["", "CEST", "Europe/Atlantis", "Europe", "../etc/passwd", " UTC", "zone1970.tab"]
)
def test_anything_else_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="IANA"):
        check_timezone(name)

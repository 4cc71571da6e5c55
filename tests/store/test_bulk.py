"""The bulk writer's values are the ORM's: a time is stored in the very text the ORM column writes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from voltbridge.store.base import UTCDateTime
from voltbridge.store.bulk import _sqlite_time

_SQLITE = sqlite.dialect()
_ORM_FORM = UTCDateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)
_ZONES = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_ZONES))
def test_a_time_is_stored_as_the_orm_stores_it_on_sqlite(value: datetime) -> None:
    assert _ORM_FORM is not None
    assert _sqlite_time(value) == _ORM_FORM(value)

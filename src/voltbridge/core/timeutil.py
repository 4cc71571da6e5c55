"""Reading the timestamps chargers send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from voltbridge.core.errors import InvalidInput


class ChargerTime(NamedTuple):
    """A charger timestamp in UTC, and whether it came without an offset (then read as UTC).

    A named tuple: every meter value entry reads one, and a frozen dataclass costs several times more
    to build.
    """

    at: datetime
    offset_missing: bool


def parse_charger_time(text: str) -> ChargerTime:
    """Parse an ISO-8601 timestamp; one without an offset is read as UTC and flagged (steve #96)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError as exc:
        raise InvalidInput(f"timestamp {text!r} is not ISO-8601") from exc
    # tuple.__new__ skips the named tuple's generated __new__ (this runs for every meter value entry).
    if value.tzinfo is None:
        return _new(ChargerTime, (value.replace(tzinfo=UTC), True))
    return _new(ChargerTime, (value.astimezone(UTC), False))


_new = tuple.__new__


def iso_utc(value: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, as the API and OCPP answers show times."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

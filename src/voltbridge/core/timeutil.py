"""Reading the timestamps chargers send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from voltbridge.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ChargerTime:
    """A charger timestamp in UTC, and whether it came without an offset (then read as UTC)."""

    at: datetime
    offset_missing: bool


def parse_charger_time(text: str) -> ChargerTime:
    """Parse an ISO-8601 timestamp; one without an offset is read as UTC and flagged (steve #96)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError as exc:
        raise InvalidInput(f"timestamp {text!r} is not ISO-8601") from exc
    if value.tzinfo is None:
        return ChargerTime(value.replace(tzinfo=UTC), offset_missing=True)
    return ChargerTime(value.astimezone(UTC), offset_missing=False)


def iso_utc(value: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, as the API and OCPP answers show times."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""Billing's domain events, published on the bus after the unit of work that caused them committed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from voltbridge.bus import Event


@dataclass(frozen=True, kw_only=True)
class SessionCostUpdated(Event):
    """A session's running cost changed (meter values arrived), or became final with its CDR.

    `as_of` is the time of the newest reading priced; time-based components are counted up to it.
    """

    topic: ClassVar[str] = "billing.session_cost"
    ordered_by: ClassVar[str] = "station_id"
    transaction_id: int
    station_id: str
    connector_id: int
    currency: str
    excl_vat: Decimal
    incl_vat: Decimal
    energy_wh: int
    as_of: datetime
    final: bool = False


@dataclass(frozen=True, kw_only=True)
class CdrCreated(Event):
    """A CDR was issued (a session's first, a credit CDR, or the CDR that replaces a credited one)."""

    topic: ClassVar[str] = "billing.cdr_created"
    ordered_by: ClassVar[str] = "station_id"
    cdr_id: int
    transaction_id: int
    station_id: str
    operator_id: int | None
    credit: bool
    currency: str
    total_excl_vat: Decimal
    total_incl_vat: Decimal


@dataclass(frozen=True, kw_only=True)
class SessionHeld(Event):
    """A finished session was held for review instead of being billed; `reasons` are flag codes."""

    topic: ClassVar[str] = "billing.session_held"
    ordered_by: ClassVar[str] = "station_id"
    transaction_id: int
    station_id: str
    operator_id: int | None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SessionLimitReached(Event):
    """A session's running cost reached its operator's monetary limit; a remote stop was sent."""

    topic: ClassVar[str] = "billing.session_limit_reached"
    ordered_by: ClassVar[str] = "station_id"
    transaction_id: int
    station_id: str
    currency: str
    limit: Decimal
    incl_vat: Decimal
    command_status: str

"""Reports: consumption, revenue and commission per operator, area or station, per local day or month.

Sessions count in the period in which they started, in the time zone of the station's operator (a
station without an operator: its area's zone, else UTC). Only completed sessions with a meter reading
count. Revenue is not yet priced by tariffs: until it is, it is the operator's commission prices
times the billable energy and sessions, and every row says so (`revenue_basis`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select

from voltbridge.core.errors import InvalidInput, NotFound
from voltbridge.core.operators.commission import CommissionTerms, terms_of
from voltbridge.core.operators.money import cents
from voltbridge.core.operators.scope import Scope
from voltbridge.core.operators.timezones import GroupBy, Period, local_iso, local_midnight, period_of, zone
from voltbridge.store import Database
from voltbridge.store.models import Transaction
from voltbridge.store.models.operators import Area, CommissionSettings, Operator
from voltbridge.store.models.stations import Station

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

# A local date bound is at most this far from the same date at UTC midnight (UTC-12 to UTC+14).
_ZONE_MARGIN = timedelta(hours=15)
MAX_SPAN = timedelta(days=3 * 366)


class ReportName(StrEnum):
    CONSUMPTION = "consumption"
    REVENUE = "revenue"
    COMMISSION = "commission"


class Per(StrEnum):
    """What one row of a report is about."""

    OPERATOR = "operator"
    AREA = "area"
    STATION = "station"


class RevenueBasis(StrEnum):
    """Where a row's revenue comes from."""

    COMMISSION_PRICES = "commission_prices"  # commission price per kWh and per session (no tariffs yet)
    NONE = "none"  # the operator has no commission set up: no revenue figure


Bound = date | datetime


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """A report request. A date bound is local midnight in each row's zone; `end` is exclusive."""

    name: ReportName
    start: Bound
    end: Bound
    group_by: GroupBy = GroupBy.DAY
    per: Per = Per.OPERATOR
    operator_id: int | None = None
    area_id: int | None = None
    station_id: str | None = None


@dataclass(slots=True)
class ReportRow:
    """One subject (operator, area or station) in one local period, with its figures."""

    period: str
    period_start: datetime
    period_end: datetime
    period_start_local: str
    period_end_local: str
    timezone: str
    operator_id: int | None
    operator_code: str | None
    area_id: int | None
    area_code: str | None
    station_id: str | None
    sessions: int = 0
    energy_wh: int = 0
    billable_sessions: int = 0
    billable_energy_wh: int = 0
    currency: str | None = None
    revenue: Decimal | None = None
    operator_share_percent: Decimal | None = None
    operator_share: Decimal | None = None
    platform_share: Decimal | None = None
    revenue_basis: RevenueBasis = RevenueBasis.NONE

    @property
    def kwh(self) -> Decimal:
        """Energy in kWh, exact (always three decimals: Wh are integers)."""
        return _kwh(self.energy_wh)

    @property
    def billable_kwh(self) -> Decimal:
        """Billable energy in kWh, exact."""
        return _kwh(self.billable_energy_wh)


@dataclass(frozen=True, slots=True)
class Report:
    """A whole report: the request and every row, ordered by subject, then period."""

    query: ReportQuery
    rows: list[ReportRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Session:
    station_id: str
    started_at: datetime
    stopped_at: datetime | None
    energy_wh: int
    area_id: int | None
    area_code: str | None
    area_timezone: str | None
    operator_id: int | None
    operator_code: str | None
    operator_timezone: str | None
    min_duration_s: int
    min_energy_wh: int


class ReportService:
    """Builds reports over completed sessions, in the caller's scope."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def report(self, query: ReportQuery, *, principal: Principal | None = None) -> Report:
        """The whole report (never a page: CSV exports take all of it)."""
        _check(query)
        scope = Scope.of(principal)
        if query.operator_id is not None and not scope.sees_operator(query.operator_id):
            raise NotFound(f"operator {query.operator_id} does not exist")
        sessions = await self._sessions(query, scope)
        terms = await self._terms({s.operator_id for s in sessions if s.operator_id is not None})
        rows: dict[tuple[object, ...], ReportRow] = {}
        for s in sessions:
            tz_name = s.operator_timezone or s.area_timezone or "UTC"
            tz = zone(tz_name)
            if not _within(s.started_at, query.start, query.end, tz):
                continue
            period = period_of(s.started_at, tz, query.group_by)
            row = _row_for(rows, query.per, s, period, tz_name, tz)
            row.sessions += 1
            row.energy_wh += s.energy_wh
            if _billable(s):
                row.billable_sessions += 1
                row.billable_energy_wh += s.energy_wh
        ordered = sorted(
            rows.values(),
            key=lambda r: (r.operator_code or "", r.area_code or "", r.station_id or "", r.period_start),
        )
        for row in ordered:
            _price(row, terms.get(row.operator_id) if row.operator_id is not None else None)
        return Report(query, ordered)

    async def _sessions(self, query: ReportQuery, scope: Scope) -> list[_Session]:
        stmt = (
            select(
                Transaction.station_id,
                Transaction.started_at,
                Transaction.stopped_at,
                Transaction.energy_wh,
                Area.id,
                Area.code,
                Area.timezone,
                Operator.id,
                Operator.code,
                Operator.timezone,
                Operator.rating_min_duration_s,
                Operator.rating_min_energy_wh,
            )
            .join(Station, Station.id == Transaction.station_id)
            .outerjoin(Area, Area.id == Station.area_id)
            .outerjoin(Operator, Operator.id == Area.operator_id)
            .where(
                Transaction.status == "completed",
                Transaction.energy_wh.is_not(None),
                Transaction.energy_wh >= 0,
                Transaction.started_at.is_not(None),
                Transaction.started_at >= _coarse(query.start) - _ZONE_MARGIN,
                Transaction.started_at < _coarse(query.end) + _ZONE_MARGIN,
                scope.stations(Transaction.station_id),
            )
        )
        if query.operator_id is not None:
            stmt = stmt.where(Area.operator_id == query.operator_id)
        if query.area_id is not None:
            stmt = stmt.where(Area.id == query.area_id)
        if query.station_id is not None:
            stmt = stmt.where(Transaction.station_id == query.station_id)
        async with self._db.read() as session:
            if query.area_id is not None:
                area = await session.get(Area, query.area_id)
                if area is None or not scope.sees_operator(area.operator_id):
                    raise NotFound(f"area {query.area_id} does not exist")
            if query.station_id is not None and not await scope.sees_station(session, query.station_id):
                raise NotFound(f"station {query.station_id!r} does not exist")
            result = await session.execute(stmt)
            return [
                _Session(
                    station_id=r[0],
                    started_at=r[1],
                    stopped_at=r[2],
                    energy_wh=r[3],
                    area_id=r[4],
                    area_code=r[5],
                    area_timezone=r[6],
                    operator_id=r[7],
                    operator_code=r[8],
                    operator_timezone=r[9],
                    min_duration_s=r[10] or 0,
                    min_energy_wh=r[11] or 0,
                )
                for r in result
                if r[1] is not None and r[3] is not None  # the query excludes them; this tells the types
            ]

    async def _terms(self, operator_ids: set[int]) -> dict[int, CommissionTerms]:
        if not operator_ids:
            return {}
        async with self._db.read() as session:
            rows = await session.scalars(
                select(CommissionSettings).where(CommissionSettings.operator_id.in_(operator_ids))
            )
            return {row.operator_id: terms_of(row) for row in rows}


def _kwh(wh: int) -> Decimal:
    return (Decimal(wh) / 1000).quantize(Decimal("0.001"))


def _check(query: ReportQuery) -> None:
    if _coarse(query.end) <= _coarse(query.start):
        raise InvalidInput("`to` must be after `from`")
    if _coarse(query.end) - _coarse(query.start) > MAX_SPAN:
        raise InvalidInput("a report spans at most three years; ask for several")


def _coarse(bound: Bound) -> datetime:
    """The bound as a UTC instant, reading a date as UTC midnight (refined per zone later)."""
    if isinstance(bound, datetime):
        return bound.astimezone(UTC)
    return datetime.combine(bound, time(0), tzinfo=UTC)


def _within(at: datetime, start: Bound, end: Bound, tz: tzinfo) -> bool:
    return _instant(start, tz) <= at < _instant(end, tz)


def _instant(bound: Bound, tz: tzinfo) -> datetime:
    if isinstance(bound, datetime):
        return bound.astimezone(UTC)
    return local_midnight(bound, tz)


def _billable(s: _Session) -> bool:
    if s.energy_wh < s.min_energy_wh:
        return False
    if s.min_duration_s and s.stopped_at is not None:
        return (s.stopped_at - s.started_at).total_seconds() >= s.min_duration_s
    return True


def _row_for(
    rows: dict[tuple[object, ...], ReportRow], per: Per, s: _Session, period: Period, tz_name: str, tz: tzinfo
) -> ReportRow:
    area_id = s.area_id if per is not Per.OPERATOR else None
    station_id = s.station_id if per is Per.STATION else None
    key = (s.operator_id, area_id, station_id, period.label, tz_name)
    row = rows.get(key)
    if row is None:
        row = ReportRow(
            period=period.label,
            period_start=period.start,
            period_end=period.end,
            period_start_local=local_iso(period.start, tz),
            period_end_local=local_iso(period.end, tz),
            timezone=tz_name,
            operator_id=s.operator_id,
            operator_code=s.operator_code,
            area_id=area_id,
            area_code=s.area_code if area_id is not None else None,
            station_id=station_id,
        )
        rows[key] = row
    return row


def _price(row: ReportRow, terms: CommissionTerms | None) -> None:
    """Revenue and shares of a row from its operator's commission terms (cents, halves up)."""
    if terms is None:
        return
    revenue = Decimal(0)
    if terms.price_per_kwh is not None:
        revenue += terms.price_per_kwh * row.billable_kwh
    if terms.price_per_session is not None:
        revenue += terms.price_per_session * row.billable_sessions
    row.revenue = cents(revenue)
    row.currency = terms.currency
    row.operator_share_percent = terms.operator_share_percent
    row.operator_share = cents(row.revenue * terms.operator_share_percent / 100)
    # The platform gets the rest, so the two shares always add up to the revenue to the cent.
    row.platform_share = row.revenue - row.operator_share
    row.revenue_basis = RevenueBasis.COMMISSION_PRICES


def columns(name: ReportName, per: Per) -> Sequence[str]:
    """The columns of a report, in order (the CSV header and the JSON row keys)."""
    subject = {
        Per.OPERATOR: ("operator_id", "operator_code"),
        Per.AREA: ("operator_id", "operator_code", "area_id", "area_code"),
        Per.STATION: ("operator_id", "operator_code", "area_id", "area_code", "station_id"),
    }[per]
    period = ("period", "period_start", "period_end", "period_start_local", "period_end_local", "timezone")
    if name is ReportName.CONSUMPTION:
        figures: tuple[str, ...] = ("sessions", "energy_wh", "kwh")
    elif name is ReportName.REVENUE:
        figures = ("sessions", "energy_wh", "kwh", "billable_sessions", "billable_kwh", "revenue", "currency")
        figures += ("revenue_basis",)
    else:
        figures = (
            "billable_sessions",
            "billable_kwh",
            "revenue",
            "operator_share_percent",
            "operator_share",
            "platform_share",
            "currency",
            "revenue_basis",
        )
    return (*subject, *period, *figures)

"""What every billing report shares: the request, the scoped CDRs it reads, periods, tables and CSV.

Billing reports read CDRs, so revenue is what sessions were actually billed. Of a corrected session
only its current CDR counts (not the credited original, not the credit CDR). A session counts in the
local period (the operator's time zone, else its area's) in which it started; `from`/`to` dates are
local midnights in that zone, `to` exclusive; times with an offset are instants.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from voltbridge.core.errors import InvalidInput, NotFound
from voltbridge.core.operators.scope import Scope
from voltbridge.core.operators.timezones import GroupBy, local_midnight, zone
from voltbridge.core.timeutil import iso_utc
from voltbridge.store.models.billing import ChargeDetailRecord
from voltbridge.store.models.operators import Area, Operator

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

Bound = date | datetime
Cell = str | int | bool | None

# A local date bound is at most this far from the same date at UTC midnight (UTC-12 to UTC+14).
ZONE_MARGIN = timedelta(hours=15)
MAX_SPAN = timedelta(days=3 * 366)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """A billing report request. `params` carries the report's own parameters as sent."""

    start: Bound
    end: Bound
    group_by: GroupBy = GroupBy.MONTH
    per: str = "operator"
    operator_id: int | None = None
    area_id: int | None = None
    station_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Table:
    """A report: its columns in order and its rows (cells as the API shows them)."""

    name: str
    columns: Sequence[str]
    rows: list[dict[str, Cell]]
    notes: list[str] = field(default_factory=list)

    def csv(self) -> str:
        """The whole table as CSV with a header line (empty cells for missing values)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if (v := row.get(c)) is None else _csv_cell(v) for c in self.columns])
        return out.getvalue()


def _csv_cell(value: Cell) -> str | int:
    if isinstance(value, bool):
        return "true" if value else "false"
    assert value is not None
    return value


def cents(value: Decimal) -> Decimal:
    """Rounded to the cent, halves away from zero (how invoices round)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def kwh(energy_wh: int) -> Decimal:
    """Wh as kWh, exact (three decimals)."""
    return (Decimal(energy_wh) / 1000).quantize(Decimal("0.001"))


def check_span(request: ReportRequest) -> None:
    """InvalidInput when the period is empty or longer than three years."""
    if coarse(request.end) <= coarse(request.start):
        raise InvalidInput("`to` must be after `from`")
    if coarse(request.end) - coarse(request.start) > MAX_SPAN:
        raise InvalidInput("a report spans at most three years; ask for several")


def coarse(bound: Bound) -> datetime:
    """The bound as a UTC instant, reading a date as UTC midnight (refined per zone by `within`)."""
    if isinstance(bound, datetime):
        return bound.astimezone(UTC)
    return datetime.combine(bound, time(0), tzinfo=UTC)


def within(at: datetime, request: ReportRequest, tz: tzinfo) -> bool:
    """Whether an instant lies in the request's period, dates read in `tz`."""
    return _instant(request.start, tz) <= at < _instant(request.end, tz)


def _instant(bound: Bound, tz: tzinfo) -> datetime:
    if isinstance(bound, datetime):
        return bound.astimezone(UTC)
    return local_midnight(bound, tz)


@dataclass(frozen=True, slots=True)
class CdrLine:
    """A current CDR with the codes of its area and operator."""

    cdr: ChargeDetailRecord
    area_code: str | None
    operator_code: str | None

    @property
    def tz(self) -> tzinfo:
        return zone(self.cdr.timezone)


def current_cdrs() -> Select[ChargeDetailRecord, str, str]:
    """CDRs that count: not credit CDRs, and not credited by one (a correction replaced them)."""
    credit = aliased(ChargeDetailRecord)
    return (
        select(ChargeDetailRecord, Area.code, Operator.code)
        .outerjoin(Area, Area.id == ChargeDetailRecord.area_id)
        .outerjoin(Operator, Operator.id == ChargeDetailRecord.operator_id)
        .where(
            ChargeDetailRecord.credit.is_(False),
            ~select(credit.id).where(credit.credit_reference_id == ChargeDetailRecord.id).exists(),
        )
    )


async def load_cdrs(
    session: AsyncSession, request: ReportRequest, principal: Principal | None
) -> list[CdrLine]:
    """The current CDRs of sessions that started in the period, in the caller's scope."""
    scope = Scope.of(principal)
    await check_filters(session, request, scope)
    query = current_cdrs().where(
        scope.operators(ChargeDetailRecord.operator_id),
        ChargeDetailRecord.start_at >= coarse(request.start) - ZONE_MARGIN,
        ChargeDetailRecord.start_at < coarse(request.end) + ZONE_MARGIN,
    )
    if request.operator_id is not None:
        query = query.where(ChargeDetailRecord.operator_id == request.operator_id)
    if request.area_id is not None:
        query = query.where(ChargeDetailRecord.area_id == request.area_id)
    if request.station_id is not None:
        query = query.where(ChargeDetailRecord.station_id == request.station_id)
    rows = await session.execute(query.order_by(ChargeDetailRecord.start_at, ChargeDetailRecord.id))
    lines = [CdrLine(cdr, area_code, operator_code) for cdr, area_code, operator_code in rows]
    return [line for line in lines if within(line.cdr.start_at, request, line.tz)]


async def check_filters(session: AsyncSession, request: ReportRequest, scope: Scope) -> None:
    """NotFound for an operator, area or station filter outside the caller's scope."""
    check_span(request)
    if request.operator_id is not None and not scope.sees_operator(request.operator_id):
        raise NotFound(f"operator {request.operator_id} does not exist")
    if request.area_id is not None:
        area = await session.get(Area, request.area_id)
        if area is None or not scope.sees_operator(area.operator_id):
            raise NotFound(f"area {request.area_id} does not exist")
    if request.station_id is not None and not await scope.sees_station(session, request.station_id):
        raise NotFound(f"station {request.station_id!r} does not exist")


def decimal_param(request: ReportRequest, name: str, *, required: bool = False) -> Decimal | None:
    """A decimal report parameter (InvalidInput naming it when it is malformed or missing)."""
    text = request.params.get(name)
    if text is None or text == "":
        if required:
            raise InvalidInput(f"this report needs `{name}`")
        return None
    try:
        value = Decimal(text)
    except ArithmeticError as exc:
        raise InvalidInput(f"`{name}` must be a decimal number such as 0.25, not {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"`{name}` must be a number of 0 or more")
    return value


def bool_param(request: ReportRequest, name: str, default: bool = False) -> bool:
    """A true/false report parameter."""
    text = request.params.get(name)
    if text is None or text == "":
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(f"`{name}` must be true or false, not {text!r}")


def utc(value: datetime) -> str:
    """A time as the API shows it."""
    return iso_utc(value)

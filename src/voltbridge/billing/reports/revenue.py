"""Billed revenue and consumption, and the operator commission on billed revenue, per local period.

`billed-revenue`: sessions, kWh and revenue excl./incl. VAT of the current CDRs, per operator, area
or station and local day or month (one row per currency). `billed-commission`: the same revenue
excl. VAT split by the operator's commission share (the operator's percentage, rounded to the cent;
the platform gets the rest, so both add up to the revenue); VAT is not revenue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.billing.reports.common import CdrLine, Cell, ReportRequest, Table, cents, kwh, load_cdrs, utc
from voltbridge.core.errors import InvalidInput
from voltbridge.core.operators.timezones import local_iso, period_of
from voltbridge.store.models.operators import CommissionSettings

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

PER = ("operator", "area", "station")
_SUBJECT = {
    "operator": ("operator_id", "operator_code"),
    "area": ("operator_id", "operator_code", "area_id", "area_code"),
    "station": ("operator_id", "operator_code", "area_id", "area_code", "station_id"),
}
_PERIOD = ("period", "period_start", "period_end", "period_start_local", "period_end_local", "timezone")
REVENUE_COLUMNS = ("sessions", "energy_wh", "kwh", "currency", "revenue_excl_vat", "revenue_incl_vat", "vat")
COMMISSION_COLUMNS = (
    "sessions",
    "kwh",
    "currency",
    "revenue_excl_vat",
    "revenue_incl_vat",
    "operator_share_percent",
    "operator_share",
    "platform_share",
    "revenue_basis",
)


@dataclass(slots=True)
class _Row:
    cells: dict[str, Cell]
    period_start: datetime
    sessions: int = 0
    energy_wh: int = 0
    excl: Decimal = Decimal(0)
    incl: Decimal = Decimal(0)
    operator_id: int | None = None
    keys: tuple[object, ...] = field(default_factory=tuple)


def _grouped(lines: Sequence[CdrLine], request: ReportRequest) -> list[_Row]:
    if request.per not in PER:
        raise InvalidInput(f"`per` must be one of {', '.join(PER)}")
    rows: dict[tuple[object, ...], _Row] = {}
    for line in lines:
        cdr = line.cdr
        tz = line.tz
        period = period_of(cdr.start_at, tz, request.group_by)
        area_id = cdr.area_id if request.per != "operator" else None
        station_id = cdr.station_id if request.per == "station" else None
        key = (cdr.operator_id, area_id, station_id, period.label, cdr.timezone, cdr.currency)
        row = rows.get(key)
        if row is None:
            cells: dict[str, Cell] = {
                "operator_id": cdr.operator_id,
                "operator_code": line.operator_code,
                "area_id": area_id,
                "area_code": line.area_code if area_id is not None else None,
                "station_id": station_id,
                "period": period.label,
                "period_start": utc(period.start),
                "period_end": utc(period.end),
                "period_start_local": local_iso(period.start, tz),
                "period_end_local": local_iso(period.end, tz),
                "timezone": cdr.timezone,
                "currency": cdr.currency,
            }
            sort = (
                line.operator_code or "",
                line.area_code or "",
                station_id or "",
                period.start,
                cdr.currency,
            )
            row = rows[key] = _Row(
                cells=cells, period_start=period.start, operator_id=cdr.operator_id, keys=sort
            )
        row.sessions += 1
        row.energy_wh += cdr.energy_wh
        row.excl += cdr.total_excl_vat
        row.incl += cdr.total_incl_vat
    return sorted(rows.values(), key=lambda r: r.keys)


async def billed_revenue(session: AsyncSession, request: ReportRequest, principal: Principal | None) -> Table:
    """Sessions, energy and billed revenue per subject and local period."""
    rows = _grouped(await load_cdrs(session, request, principal), request)
    columns = (*_SUBJECT[request.per], *_PERIOD, *REVENUE_COLUMNS)
    out = []
    for row in rows:
        excl, incl = cents(row.excl), cents(row.incl)
        out.append(
            {
                **row.cells,
                "sessions": row.sessions,
                "energy_wh": row.energy_wh,
                "kwh": str(kwh(row.energy_wh)),
                "revenue_excl_vat": str(excl),
                "revenue_incl_vat": str(incl),
                "vat": str(incl - excl),
            }
        )
    return Table("billed-revenue", columns, out)


async def billed_commission(
    session: AsyncSession, request: ReportRequest, principal: Principal | None
) -> Table:
    """Billed revenue per subject and local period, split by the operator's commission share."""
    rows = _grouped(await load_cdrs(session, request, principal), request)
    operators = {r.operator_id for r in rows if r.operator_id is not None}
    shares: dict[int, Decimal] = {}
    if operators:
        settings = await session.scalars(
            select(CommissionSettings).where(CommissionSettings.operator_id.in_(operators))
        )
        shares = {s.operator_id: s.operator_share_percent for s in settings}
    columns = (*_SUBJECT[request.per], *_PERIOD, *COMMISSION_COLUMNS)
    out = []
    for row in rows:
        revenue = cents(row.excl)
        share = shares.get(row.operator_id) if row.operator_id is not None else None
        operator_share = None if share is None else cents(revenue * share / 100)
        out.append(
            {
                **row.cells,
                "sessions": row.sessions,
                "kwh": str(kwh(row.energy_wh)),
                "revenue_excl_vat": str(revenue),
                "revenue_incl_vat": str(cents(row.incl)),
                "operator_share_percent": None if share is None else str(share),
                "operator_share": None if operator_share is None else str(operator_share),
                "platform_share": None if operator_share is None else str(revenue - operator_share),
                "revenue_basis": "cdrs",
            }
        )
    notes = ["revenue is the total excl. VAT of each session's current CDR (tariff-priced)"]
    return Table("billed-commission", columns, out, notes)

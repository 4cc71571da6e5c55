"""Home-charging reimbursement: what an employer pays back for charging at an employee's home charger.

Sessions on stations marked as home chargers (as they were when each CDR was issued) are summed per
employee (the station's owner; `per=driver`: the driver holding the token) and local month.

- `mode=fixed` (default): kWh x `price_per_kwh`, in `currency` (default EUR).
- `mode=tariff`: each session's own tariff price incl. VAT (its CDR total), but never more than
  kWh x `max_price_per_kwh` when that is given.
- `monthly_cap`: the most paid per person and month, in either mode.
- `mid_only=true`: only sessions measured by a MID meter count; the others are listed as excluded.

Amounts are computed exactly and rounded once per row to the cent (halves up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.billing.reports.common import (
    Cell,
    ReportRequest,
    Table,
    bool_param,
    cents,
    decimal_param,
    kwh,
    load_cdrs,
    utc,
)
from voltbridge.core.errors import InvalidInput
from voltbridge.core.operators.money import check_currency
from voltbridge.core.operators.timezones import GroupBy, local_iso, period_of
from voltbridge.store.models import IdToken
from voltbridge.store.models.operators import Driver, DriverToken

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

COLUMNS = (
    "person",
    "period",
    "period_start",
    "period_end",
    "period_start_local",
    "timezone",
    "stations",
    "sessions",
    "energy_wh",
    "kwh",
    "basis",
    "price_per_kwh",
    "max_price_per_kwh",
    "uncapped_amount",
    "monthly_cap",
    "amount",
    "currency",
    "excluded_sessions_not_mid",
    "excluded_kwh_not_mid",
)


@dataclass(slots=True)
class _Row:
    person: str | None
    period: str
    period_start: datetime
    period_end: datetime
    timezone: str
    currency: str
    local_start: str
    stations: set[str] = field(default_factory=set)
    sessions: int = 0
    energy_wh: int = 0
    amount: Decimal = Decimal(0)
    excluded_sessions: int = 0
    excluded_wh: int = 0


async def home_charging(session: AsyncSession, request: ReportRequest, principal: Principal | None) -> Table:
    """The reimbursement per person and local month (see the module docstring)."""
    mode = request.params.get("mode") or "fixed"
    if mode not in ("fixed", "tariff"):
        raise InvalidInput("`mode` must be fixed or tariff")
    per = request.params.get("per") or "employee"
    if per not in ("employee", "driver"):
        raise InvalidInput("`per` must be employee or driver for this report")
    price = decimal_param(request, "price_per_kwh", required=mode == "fixed")
    maximum = decimal_param(request, "max_price_per_kwh")
    cap = decimal_param(request, "monthly_cap")
    mid_only = bool_param(request, "mid_only")
    currency = check_currency(request.params.get("currency") or "EUR")
    lines = [line for line in await load_cdrs(session, request, principal) if line.cdr.home_charger]
    drivers = (
        await _drivers(session, {line.cdr.id_tag for line in lines if line.cdr.id_tag})
        if per == "driver"
        else {}
    )
    rows: dict[tuple[object, ...], _Row] = {}
    for line in lines:
        cdr = line.cdr
        period = period_of(cdr.start_at, line.tz, GroupBy.MONTH)
        person = cdr.home_owner if per == "employee" else drivers.get(cdr.id_tag or "", cdr.id_tag)
        row_currency = currency if mode == "fixed" else cdr.currency
        key = (person or "", period.label, cdr.timezone, row_currency)
        row = rows.get(key)
        if row is None:
            row = rows[key] = _Row(
                person=person,
                period=period.label,
                period_start=period.start,
                period_end=period.end,
                timezone=cdr.timezone,
                currency=row_currency,
                local_start=local_iso(period.start, line.tz),
            )
        if mid_only and not cdr.mid_meter:
            row.excluded_sessions += 1
            row.excluded_wh += cdr.energy_wh
            continue
        row.stations.add(cdr.station_id)
        row.sessions += 1
        row.energy_wh += cdr.energy_wh
        energy_kwh = Decimal(cdr.energy_wh) / 1000
        if mode == "fixed":
            assert price is not None
            row.amount += energy_kwh * price
        else:
            paid = cdr.total_incl_vat
            row.amount += paid if maximum is None else min(paid, energy_kwh * maximum)
    out: list[dict[str, Cell]] = []
    for row in sorted(rows.values(), key=lambda r: (r.person or "", r.period_start, r.currency)):
        uncapped = cents(row.amount)
        amount = uncapped if cap is None else min(uncapped, cents(cap))
        out.append(
            {
                "person": row.person,
                "period": row.period,
                "period_start": utc(row.period_start),
                "period_end": utc(row.period_end),
                "period_start_local": row.local_start,
                "timezone": row.timezone,
                "stations": ";".join(sorted(row.stations)),
                "sessions": row.sessions,
                "energy_wh": row.energy_wh,
                "kwh": str(kwh(row.energy_wh)),
                "basis": mode,
                "price_per_kwh": None if price is None or mode != "fixed" else str(price),
                "max_price_per_kwh": None if maximum is None or mode != "tariff" else str(maximum),
                "uncapped_amount": str(uncapped),
                "monthly_cap": None if cap is None else str(cents(cap)),
                "amount": str(amount),
                "currency": row.currency,
                "excluded_sessions_not_mid": row.excluded_sessions,
                "excluded_kwh_not_mid": str(kwh(row.excluded_wh)),
            }
        )
    return Table("home-charging", COLUMNS, out)


async def _drivers(session: AsyncSession, uids: set[str]) -> dict[str, str]:
    """Driver names by token uid, for the tokens that have a holder."""
    if not uids:
        return {}
    rows = await session.execute(
        select(IdToken.uid, Driver.name)
        .join(DriverToken, DriverToken.id_token_id == IdToken.id)
        .join(Driver, Driver.id == DriverToken.driver_id)
        .where(IdToken.uid.in_(uids))
    )
    return {uid: name for uid, name in rows}

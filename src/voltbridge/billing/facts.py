"""Reading what billing needs about a session from the store: its place, its meter data, its neighbours.

Times: a session is priced on the wall clock of its Location (the charging area's zone, else the
operator's, else UTC); its CDR shows local times in the operator's zone (else the area's, else UTC),
as every operator view does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.billing.readings import Instant, MeterInput, Reading, StatusPoint
from voltbridge.billing.validation import RatingRules
from voltbridge.core.metering import REGISTER
from voltbridge.core.operators.timezones import zone
from voltbridge.store.models import MeterValue, Station, StationEvent, Transaction
from voltbridge.store.models.billing import StationMetering, station_metering
from voltbridge.store.models.operators import Area, Operator

POWER = "Power.Active.Import"
CURRENT = "Current.Import"
_PHASES = frozenset({"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"})


@dataclass(frozen=True, slots=True)
class Place:
    """Where a session ran and the rules of its operator (defaults when the station has no operator)."""

    station_id: str
    area_id: int | None
    area_code: str | None
    operator_id: int | None
    operator_code: str | None
    pricing_timezone: str
    local_timezone: str
    rate_idle: bool
    idle_after_s: int
    rating: RatingRules
    limit_amount: Decimal | None
    limit_currency: str | None
    metering: StationMetering


async def load_place(session: AsyncSession, station_id: str) -> Place:
    """The station's area, operator and metering facts (an unknown station: no area, no operator)."""
    row = (
        await session.execute(
            select(Station, Area, Operator)
            .select_from(Station)
            .outerjoin(Area, Station.area_id == Area.id)
            .outerjoin(Operator, Operator.id == Area.operator_id)
            .where(Station.id == station_id)
        )
    ).first()
    station, area, operator = (row[0], row[1], row[2]) if row is not None else (None, None, None)
    area_tz = area.timezone if area is not None else None
    operator_tz = operator.timezone if operator is not None else None
    return Place(
        station_id=station_id,
        area_id=area.id if area is not None else None,
        area_code=area.code if area is not None else None,
        operator_id=operator.id if operator is not None else None,
        operator_code=operator.code if operator is not None else None,
        pricing_timezone=_valid_zone(area_tz or operator_tz),
        local_timezone=_valid_zone(operator_tz or area_tz),
        # Without an operator there are no rating rules: the tariff is applied as it is.
        rate_idle=operator.rating_rate_idle if operator is not None else True,
        idle_after_s=60 * (operator.idle_after_minutes or 0) if operator is not None else 0,
        rating=RatingRules(
            min_duration_s=operator.rating_min_duration_s if operator is not None else 0,
            min_energy_wh=operator.rating_min_energy_wh if operator is not None else 0,
            energy_step_delta_wh=operator.energy_step_delta_wh if operator is not None else None,
        ),
        limit_amount=operator.session_limit_amount if operator is not None else None,
        limit_currency=operator.session_limit_currency if operator is not None else None,
        metering=station_metering(station) if station is not None else StationMetering(),
    )


def _valid_zone(name: str | None) -> str:
    if not name:
        return "UTC"
    try:
        zone(name)
    except (ValueError, KeyError, OSError):
        return "UTC"
    return name


async def load_meter_input(
    session: AsyncSession,
    tx: Transaction,
    *,
    start: datetime,
    end: datetime,
    final: bool,
    idle_after_s: int,
) -> MeterInput:
    """The session's registers, power, current and connector statuses up to `end`.

    A running session (`final` False) has no meter stop yet; its end is its newest reading.
    """
    # Plain column rows, not ORM objects: a long session has thousands of values, read every re-pricing.
    query = select(
        MeterValue.at,
        MeterValue.measurand,
        MeterValue.phase,
        MeterValue.location,
        MeterValue.unit,
        MeterValue.value,
    ).where(
        MeterValue.transaction_id == tx.id,
        MeterValue.measurand.in_([REGISTER, POWER, CURRENT]),
        MeterValue.value.is_not(None),
    )
    if not final:
        query = query.where(MeterValue.at <= end)
    rows = (await session.execute(query.order_by(MeterValue.at, MeterValue.id))).all()
    readings: list[Reading] = []
    power: dict[datetime, Decimal] = {}
    current: dict[datetime, Decimal] = {}
    phase_current: dict[datetime, Decimal] = {}
    for at, measurand, phase, location, unit, value in rows:
        if value is None:
            continue
        if measurand == REGISTER:
            if phase is None and location in (None, "Outlet") and unit in (None, "Wh"):
                readings.append(Reading(at, round(value)))
        elif measurand == POWER and phase is None and unit in (None, "W"):
            power[at] = _non_negative(value)
        elif measurand == CURRENT and unit in (None, "A"):
            if phase is None:
                current[at] = _non_negative(value)
            elif phase in _PHASES:
                phase_current[at] = phase_current.get(at, Decimal(0)) + _non_negative(value)
    for at, total in phase_current.items():
        current.setdefault(at, total)  # a whole-charger value wins over the sum of its phases
    instants = [
        Instant(at=at, power_w=power.get(at), current_a=current.get(at))
        for at in sorted(power.keys() | current.keys())
    ]
    statuses = await _statuses(session, tx, start, end)
    return MeterInput(
        start=start,
        end=end,
        meter_start_wh=tx.meter_start_wh,
        meter_stop_wh=tx.meter_stop_wh if final else None,
        readings=readings,
        instants=instants,
        statuses=statuses,
        idle_after_s=idle_after_s,
    )


def _non_negative(value: float) -> Decimal:
    # Chargers report import power and current; a negative one is export, which no tariff prices.
    return max(Decimal(repr(value)), Decimal(0))


async def _statuses(
    session: AsyncSession, tx: Transaction, start: datetime, end: datetime
) -> list[StatusPoint]:
    events = await session.scalars(
        select(StationEvent)
        .where(
            StationEvent.station_id == tx.station_id,
            StationEvent.kind == "status",
            StationEvent.at >= start,
            StationEvent.at <= end,
        )
        .order_by(StationEvent.at, StationEvent.id)
    )
    return [
        StatusPoint(event.at, str(event.data.get("status")))
        for event in events
        if event.data.get("connector_id") == tx.connector_id
    ]


async def newest_reading_at(session: AsyncSession, transaction_id: int) -> datetime | None:
    """The time of the session's newest energy register reading."""
    return await session.scalar(
        select(MeterValue.at)
        .where(MeterValue.transaction_id == transaction_id, MeterValue.measurand == REGISTER)
        .order_by(MeterValue.at.desc())
        .limit(1)
    )


async def signed_values(session: AsyncSession, transaction_id: int) -> list[dict[str, Any]]:
    """Every signed meter value of the session, verbatim, oldest first."""
    rows = await session.scalars(
        select(MeterValue)
        .where(MeterValue.transaction_id == transaction_id, MeterValue.signed.is_not(None))
        .order_by(MeterValue.at, MeterValue.id)
    )
    return [
        {
            "at": row.at.isoformat(),
            "measurand": row.measurand,
            "context": row.context,
            "format": (row.signed or {}).get("format"),
            "data": row.raw,
        }
        for row in rows
    ]


async def overlapping(session: AsyncSession, tx: Transaction, start: datetime, end: datetime) -> list[int]:
    """Other sessions on the same connector whose time overlaps this one."""
    ids = await session.scalars(
        select(Transaction.id)
        .where(
            Transaction.station_id == tx.station_id,
            Transaction.connector_id == tx.connector_id,
            Transaction.id != tx.id,
            Transaction.started_at.is_not(None),
            Transaction.started_at < end,
            or_(Transaction.stopped_at.is_(None), Transaction.stopped_at > start),
        )
        .order_by(Transaction.id)
    )
    return list(ids)

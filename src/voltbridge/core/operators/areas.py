"""Charging areas: stations at one place on one grid connection; nested, optionally owned by an operator."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.core.operators import audit
from voltbridge.core.operators.scope import Scope, require_admin, require_writer
from voltbridge.core.operators.timezones import check_timezone
from voltbridge.store import Database
from voltbridge.store.models.operators import Area, Operator
from voltbridge.store.models.stations import Station

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

GRID_UNITS = ("A", "kW")  # amps per phase, or kilowatts
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Nesting deeper than this is a data error, not a real site (and would make cycle checks unbounded).
MAX_DEPTH = 16


class AreaFields(TypedDict, total=False):
    """An area's changeable fields; a key left out is unchanged (on update) or empty (on create)."""

    code: str
    name: str
    operator_id: int | None
    parent_id: int | None
    timezone: str | None
    address: str | None
    city: str | None
    zip: str | None
    country: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    grid_limit: Decimal | None
    grid_limit_unit: str | None


AUDITED = tuple(AreaFields.__annotations__)
_TEXT = ("address", "city", "zip", "country")


def snapshot(area: Area) -> dict[str, object]:
    """The area's audited fields as they are now."""
    return {name: getattr(area, name) for name in AUDITED}


class AreaService:
    """Every change to an area, and to a station's area and visibility, goes through here."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, fields: AreaFields, *, actor: Principal | None = None) -> Area:
        """Create an area (platform admins only)."""
        require_admin(actor, "create charging areas")
        if "code" not in fields or "name" not in fields:
            raise InvalidInput("a charging area needs a code and a name")
        now = self._clock.now()
        area = Area(created_at=now, updated_at=now)
        try:
            async with self._db.transaction() as session:
                await _apply(session, area, fields)
                session.add(area)
                await session.flush()
                _, after = audit.changes({}, snapshot(area))
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="area",
                    entity_id=area.id,
                    action="create",
                    operator_id=area.operator_id,
                    after=after,
                )
        except IntegrityError as exc:
            raise Conflict(f"area code {fields['code']!r} is already taken") from exc
        return area

    async def get(self, area_id: int, *, principal: Principal | None = None) -> Area:
        """One area (404 when it does not exist or is outside the caller's scope)."""
        async with self._db.read() as session:
            return await load_area(session, area_id, Scope.of(principal))

    async def get_all(
        self,
        *,
        principal: Principal | None = None,
        operator_id: int | None = None,
        parent_id: int | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[Sequence[Area], int]:
        """Areas in the caller's scope, by code; `search` matches code, name or city."""
        query = select(Area).where(Scope.of(principal).operators(Area.operator_id))
        if operator_id is not None:
            query = query.where(Area.operator_id == operator_id)
        if parent_id is not None:
            query = query.where(Area.parent_id == parent_id)
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(
                or_(
                    func.lower(Area.code).like(pattern),
                    func.lower(Area.name).like(pattern),
                    func.lower(Area.city).like(pattern),
                )
            )
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(Area.code).limit(limit).offset(offset))
            return rows.all(), total

    async def update(self, area_id: int, fields: AreaFields, *, actor: Principal | None = None) -> Area:
        """Change an area (platform admins only); a new parent must not be the area or inside it."""
        try:
            async with self._db.transaction() as session:
                area = await load_area(session, area_id, Scope.of(actor))
                require_admin(actor, "change charging areas")
                before = snapshot(area)
                await _apply(session, area, fields)
                old, new = audit.changes(before, snapshot(area))
                if new:
                    now = self._clock.now()
                    area.updated_at = now
                    audit.record(
                        session,
                        actor=actor,
                        at=now,
                        entity="area",
                        entity_id=area.id,
                        action="update",
                        operator_id=area.operator_id,
                        before=old,
                        after=new,
                    )
        except IntegrityError as exc:
            raise Conflict(f"area code {fields.get('code')!r} is already taken") from exc
        return area

    async def delete(self, area_id: int, *, actor: Principal | None = None) -> None:
        """Delete an area that holds no stations and no sub-areas; otherwise Conflict saying which."""
        async with self._db.transaction() as session:
            area = await load_area(session, area_id, Scope.of(actor))
            require_admin(actor, "delete charging areas")
            stations = (
                await session.scalars(
                    select(Station.id).where(Station.area_id == area.id).order_by(Station.id)
                )
            ).all()
            children = (await session.scalars(select(Area.code).where(Area.parent_id == area.id))).all()
            held = []
            if stations:
                held.append(f"{len(stations)} station(s) ({', '.join(stations[:5])})")
            if children:
                held.append(f"{len(children)} sub-area(s) ({', '.join(children[:5])})")
            if held:
                raise Conflict(f"area {area.code!r} still holds {' and '.join(held)}; move them first")
            old, _ = audit.changes(snapshot(area), dict.fromkeys(AUDITED))
            await session.delete(area)
            audit.record(
                session,
                actor=actor,
                at=self._clock.now(),
                entity="area",
                entity_id=area_id,
                action="delete",
                operator_id=area.operator_id,
                before=old,
            )

    async def place_station(
        self,
        station_id: str,
        *,
        area_id: int | None,
        visible: bool | None,
        move: bool,
        actor: Principal | None = None,
    ) -> Station:
        """Put a station into an area (`move`; `area_id` None takes it out) and/or set its visibility.

        An operator user may do this for its own stations and areas only; taking a station out of
        every area is for platform admins (the station would leave the operator's sight).
        """
        require_writer(actor)
        scope = Scope.of(actor)
        async with self._db.transaction() as session:
            station = await session.get(Station, station_id)
            if station is None or not await scope.sees_station(session, station_id):
                raise NotFound(f"station {station_id!r} does not exist")
            new_area = station.area_id
            if move:
                if area_id is None:
                    require_admin(actor, "take a station out of its charging area")
                else:
                    await load_area(session, area_id, scope, what="charging area", invalid=True)
                new_area = area_id
            new_visible = station.visible if visible is None else visible
            before = {"area_id": station.area_id, "visible": station.visible}
            after = {"area_id": new_area, "visible": new_visible}
            old, new = audit.changes(before, after)
            if new:
                now = self._clock.now()
                station.area_id, station.visible = new_area, new_visible
                station.updated_at = now
                owner = await session.scalar(select(Area.operator_id).where(Area.id == new_area))
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="station",
                    entity_id=station_id,
                    action="place",
                    operator_id=owner,
                    before=old,
                    after=new,
                )
        return station


async def load_area(
    session: AsyncSession, area_id: int, scope: Scope, *, what: str = "area", invalid: bool = False
) -> Area:
    """The area, or NotFound (InvalidInput when `invalid`: a body named it) if unknown or out of scope."""
    area = await session.get(Area, area_id)
    if area is None or not scope.sees_operator(area.operator_id):
        message = f"{what} {area_id} does not exist"
        raise InvalidInput(message) if invalid else NotFound(message)
    return area


async def _apply(session: AsyncSession, area: Area, fields: AreaFields) -> None:
    if "code" in fields:
        if not _CODE.match(fields["code"]):
            raise InvalidInput(
                "area code must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
            )
        taken = await session.scalar(
            select(Area.id).where(func.lower(Area.code) == fields["code"].lower(), Area.id != area.id)
        )
        if taken is not None:
            raise Conflict(f"area code {fields['code']!r} is already taken (by area {taken})")
        area.code = fields["code"]
    if "name" in fields:
        if not fields["name"].strip():
            raise InvalidInput("a charging area needs a name")
        area.name = fields["name"].strip()
    if "operator_id" in fields:
        operator_id = fields["operator_id"]
        if operator_id is not None and await session.get(Operator, operator_id) is None:
            raise InvalidInput(f"operator {operator_id} does not exist")
        area.operator_id = operator_id
    if "parent_id" in fields:
        parent_id = fields["parent_id"]
        if parent_id is not None:
            await _check_parent(session, area, parent_id)
        area.parent_id = parent_id
    if "timezone" in fields:
        tz = fields["timezone"]
        area.timezone = check_timezone(tz) if tz else None
    for name in _TEXT:
        if name in fields:
            setattr(area, name, fields[name] or None)  # type: ignore[literal-required]
    if "latitude" in fields:
        area.latitude = _coordinate(fields["latitude"], 90, "latitude")
    if "longitude" in fields:
        area.longitude = _coordinate(fields["longitude"], 180, "longitude")
    if (area.latitude is None) != (area.longitude is None):
        raise InvalidInput("give both latitude and longitude, or neither")
    if "grid_limit" in fields:
        area.grid_limit = fields["grid_limit"]
    if "grid_limit_unit" in fields:
        area.grid_limit_unit = fields["grid_limit_unit"]
    _check_grid(area)


async def _check_parent(session: AsyncSession, area: Area, parent_id: int) -> None:
    parent = await session.get(Area, parent_id)
    if parent is None:
        raise InvalidInput(f"parent area {parent_id} does not exist")
    # Walk up from the new parent: meeting this area again would close a loop.
    seen = parent
    for _ in range(MAX_DEPTH):
        if area.id is not None and seen.id == area.id:
            raise InvalidInput(
                f"area {area.code!r} cannot be placed inside {parent.code!r}: that area is inside it (a cycle)"
            )
        if seen.parent_id is None:
            return
        above = await session.get(Area, seen.parent_id)
        if above is None:
            return
        seen = above
    raise InvalidInput(f"areas nest at most {MAX_DEPTH} levels deep")


def _coordinate(value: Decimal | None, bound: int, what: str) -> Decimal | None:
    if value is None:
        return None
    if not -bound <= value <= bound:
        raise InvalidInput(f"{what} must be between -{bound} and {bound}")
    return value.quantize(Decimal("0.000001"))


def _check_grid(area: Area) -> None:
    if (area.grid_limit is None) != (area.grid_limit_unit is None):
        raise InvalidInput("give grid_limit together with grid_limit_unit (A per phase or kW), or neither")
    if area.grid_limit_unit is not None and area.grid_limit_unit not in GRID_UNITS:
        raise InvalidInput(f"grid_limit_unit must be one of {', '.join(GRID_UNITS)}")
    if area.grid_limit is not None and area.grid_limit <= 0:
        raise InvalidInput("grid_limit must be more than 0")

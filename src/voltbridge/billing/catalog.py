"""Tariffs (stored in the OCPI 2.2.1 shape, versioned) and their assignment to areas, stations, connectors.

Which tariff prices a session (`resolve`): the most specific assignment wins, connector before
station before the station's area before that area's parents. At one level, an assignment for a
driver group the session's token belongs to (the private network of an operator: its members, and
tokens whose group id the operator admits) comes before the assignment for everybody. A tariff whose
OCPI `start_date_time`/`end_date_time` window does not hold at the session start is passed over.

Who may do what: platform admins everything; an operator's users see the platform's tariffs (no
operator) and their own, change only their own, and assign tariffs only to their own areas and
stations. A tariff of one operator cannot be assigned to another operator's stations.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.billing.tariffs import Tariff, parse_tariff, tariff_to_ocpi
from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from voltbridge.core.operators import audit
from voltbridge.core.operators.money import check_currency
from voltbridge.core.operators.scope import Scope
from voltbridge.core.timeutil import iso_utc
from voltbridge.store import Database
from voltbridge.store.models import IdToken, Station
from voltbridge.store.models.billing import TariffAssignment, TariffRecord, TariffVersion
from voltbridge.store.models.operators import Area, NetworkMember, Operator

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

# Areas nest; a cycle is refused by the areas service, this only bounds the walk.
_MAX_AREA_DEPTH = 32


def json_ready(value: Any) -> Any:
    """OCPI JSON with numbers as JSON numbers: an integral Decimal as int, another as float.

    A float made from a Decimal reads back (parse_tariff uses its shortest repr) as the same Decimal
    for every price with up to 15 significant digits.
    """
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class TariffView:
    """A stored tariff: our id, the owner, its version, and the OCPI object (`data`)."""

    id: int
    ocpi_id: str
    operator_id: int | None
    currency: str
    version: int
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def tariff(self) -> Tariff:
        """The engine's model of this tariff."""
        return parse_tariff(self.data)


def _view(row: TariffRecord) -> TariffView:
    return TariffView(
        id=row.id,
        ocpi_id=row.ocpi_id,
        operator_id=row.operator_id,
        currency=row.currency,
        version=row.version,
        data=dict(row.data),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclass(frozen=True, slots=True)
class Target:
    """What a tariff is assigned to: an area, a station, or one connector of a station."""

    area_id: int | None = None
    station_id: str | None = None
    connector_id: int | None = None

    def key(self) -> str:
        """The derived unique key ("area:3", "station:CP1", "connector:CP1/2")."""
        given = sum(x is not None for x in (self.area_id, self.station_id))
        if given != 1:
            raise InvalidInput(
                "name exactly one of area_id or station_id (with connector_id for a connector)"
            )
        if self.area_id is not None:
            if self.connector_id is not None:
                raise InvalidInput("connector_id needs station_id, not area_id")
            return f"area:{self.area_id}"
        if self.connector_id is not None:
            if self.connector_id < 1:
                raise InvalidInput("connector_id starts at 1")
            return f"connector:{self.station_id}/{self.connector_id}"
        return f"station:{self.station_id}"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The tariff that prices a session, and why: the level of the assignment that won."""

    tariff: TariffView
    level: str  # connector, station or area
    assignment_id: int
    driver_group_operator_id: int | None


class TariffService:
    """Tariffs and their assignments; every change is written to the audit log."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self, data: Mapping[str, object], *, operator_id: int | None = None, actor: Principal | None = None
    ) -> TariffView:
        """Store a new tariff from its OCPI 2.2.1 shape; without an `id`, one is given (`VB-<our id>`)."""
        scope = Scope.of(actor)
        owner = _owner_for(scope, operator_id)
        now = self._clock.now()
        given_id = data.get("id")
        tariff = _parse(data, "new" if given_id is None else None, now)
        # The row needs a unique OCPI id before the database gives it our id; this one lives a flush.
        placeholder = f"new-{uuid.uuid4().hex[:24]}"
        try:
            async with self._db.transaction() as session:
                if owner is not None and await session.get(Operator, owner) is None:
                    raise InvalidInput(f"operator {owner} does not exist")
                row = TariffRecord(
                    ocpi_id=placeholder if given_id is None else tariff.id,
                    operator_id=owner,
                    currency=tariff.currency,
                    version=1,
                    data={},
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
                if given_id is None:
                    tariff = _parse({**data, "id": f"VB-{row.id}"}, None, now)
                    row.ocpi_id = tariff.id
                row.data = json_ready(tariff_to_ocpi(tariff))
                session.add(_version(row, actor, now))
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="tariff",
                    entity_id=row.id,
                    action="create",
                    operator_id=owner,
                    after={"ocpi_id": row.ocpi_id, "version": 1, "data": row.data},
                )
        except IntegrityError as exc:
            raise Conflict(f"a tariff with id {tariff.id!r} already exists") from exc
        return _view(row)

    async def get(self, tariff_id: int, *, principal: Principal | None = None) -> TariffView:
        """One tariff (404 when unknown or outside the caller's scope)."""
        async with self._db.read() as session:
            return _view(await _load(session, tariff_id, Scope.of(principal)))

    async def get_all(
        self,
        *,
        principal: Principal | None = None,
        operator_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[TariffView], int]:
        """Tariffs the caller may see, by our id."""
        query = select(TariffRecord).where(_visible(Scope.of(principal)))
        if operator_id is not None:
            query = query.where(TariffRecord.operator_id == operator_id)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(TariffRecord.id).limit(limit).offset(offset))
            return [_view(r) for r in rows], total

    async def replace(
        self, tariff_id: int, data: Mapping[str, object], *, actor: Principal | None = None
    ) -> TariffView:
        """Save a new version of the tariff. Sessions already running keep the version they started with."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await _load(session, tariff_id, Scope.of(actor))
            _check_writable(Scope.of(actor), row)
            given = data.get("id")
            if given is not None and str(given).lower() != row.ocpi_id.lower():
                raise Conflict(f"tariff {tariff_id} has OCPI id {row.ocpi_id!r}; the id cannot change")
            tariff = _parse({**data, "id": row.ocpi_id}, None, now)
            before: dict[str, Any] = {"version": row.version, "data": row.data}
            row.version += 1
            row.currency = tariff.currency
            row.data = json_ready(tariff_to_ocpi(tariff))
            row.updated_at = now
            session.add(_version(row, actor, now))
            audit.record(
                session,
                actor=actor,
                at=now,
                entity="tariff",
                entity_id=row.id,
                action="update",
                operator_id=row.operator_id,
                before=before,
                after={"version": row.version, "data": row.data},
            )
        return _view(row)

    async def delete(self, tariff_id: int, *, actor: Principal | None = None) -> None:
        """Delete a tariff nothing is assigned to (409 naming the assignments otherwise)."""
        async with self._db.transaction() as session:
            row = await _load(session, tariff_id, Scope.of(actor))
            _check_writable(Scope.of(actor), row)
            targets = (
                await session.scalars(
                    select(TariffAssignment.target)
                    .where(TariffAssignment.tariff_id == row.id)
                    .order_by(TariffAssignment.id)
                )
            ).all()
            if targets:
                raise Conflict(
                    f"tariff {row.ocpi_id!r} is still assigned to {', '.join(targets[:5])}"
                    f"{', …' if len(targets) > 5 else ''}; remove the assignments first"
                )
            await session.delete(row)
            audit.record(
                session,
                actor=actor,
                at=self._clock.now(),
                entity="tariff",
                entity_id=tariff_id,
                action="delete",
                operator_id=row.operator_id,
                before={"ocpi_id": row.ocpi_id, "version": row.version},
            )

    async def versions(self, tariff_id: int, *, principal: Principal | None = None) -> list[TariffVersion]:
        """Every version of the tariff, oldest first."""
        async with self._db.read() as session:
            await _load(session, tariff_id, Scope.of(principal))
            rows = await session.scalars(
                select(TariffVersion)
                .where(TariffVersion.tariff_id == tariff_id)
                .order_by(TariffVersion.version)
            )
            return list(rows)

    async def assign(
        self,
        tariff_id: int,
        target: Target,
        *,
        driver_group_operator_id: int | None = None,
        actor: Principal | None = None,
    ) -> TariffAssignment:
        """Assign the tariff to an area, a station or a connector, optionally for a driver group only."""
        scope = Scope.of(actor)
        key = target.key()
        now = self._clock.now()
        try:
            async with self._db.transaction() as session:
                row = await _load(session, tariff_id, scope, invalid=True)
                owner = await _target_operator(session, target, scope)
                if row.operator_id is not None and row.operator_id != owner:
                    raise InvalidInput(
                        f"tariff {row.ocpi_id!r} belongs to operator {row.operator_id}; {key} does not"
                    )
                if driver_group_operator_id is not None:
                    if not scope.sees_operator(driver_group_operator_id):
                        raise InvalidInput(f"operator {driver_group_operator_id} does not exist")
                    if await session.get(Operator, driver_group_operator_id) is None:
                        raise InvalidInput(f"operator {driver_group_operator_id} does not exist")
                assignment = TariffAssignment(
                    tariff_id=row.id,
                    area_id=target.area_id,
                    station_id=target.station_id,
                    connector_id=target.connector_id,
                    driver_group_operator_id=driver_group_operator_id,
                    target=key,
                    group_key=_group_key(driver_group_operator_id),
                    created_at=now,
                    created_by=_who(actor),
                )
                session.add(assignment)
                await session.flush()
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="tariff_assignment",
                    entity_id=assignment.id,
                    action="create",
                    operator_id=owner,
                    after={
                        "tariff_id": row.id,
                        "target": key,
                        "driver_group_operator_id": driver_group_operator_id,
                    },
                )
        except IntegrityError as exc:
            group = (
                ""
                if driver_group_operator_id is None
                else f" for operator {driver_group_operator_id}'s drivers"
            )
            raise Conflict(f"{key} already has a tariff{group}; remove that assignment first") from exc
        return assignment

    async def set_station_tariff(
        self, station_id: str, tariff_id: int | None, *, actor: Principal | None = None
    ) -> None:
        """The tariff for everybody at the station (`PATCH /stations/{id}` with `tariff_id`).

        Replaces the station-level assignment (not those of its connectors or driver groups);
        None removes it, so the area's tariff applies again.
        """
        current, _ = await self.assignments(principal=actor, station_id=station_id, limit=1000)
        for assignment in current:
            if (
                assignment.connector_id is None
                and assignment.driver_group_operator_id is None
                and assignment.station_id == station_id
            ):
                if assignment.tariff_id == tariff_id:
                    return
                await self.unassign(assignment.id, actor=actor)
        if tariff_id is not None:
            await self.assign(tariff_id, Target(station_id=station_id), actor=actor)

    async def unassign(self, assignment_id: int, *, actor: Principal | None = None) -> None:
        """Remove an assignment (sessions already running keep their snapshot)."""
        scope = Scope.of(actor)
        async with self._db.transaction() as session:
            assignment = await session.get(TariffAssignment, assignment_id)
            if assignment is None:
                raise NotFound(f"tariff assignment {assignment_id} does not exist")
            target = Target(assignment.area_id, assignment.station_id, assignment.connector_id)
            try:
                owner = await _target_operator(session, target, scope)
            except InvalidInput as exc:
                raise NotFound(f"tariff assignment {assignment_id} does not exist") from exc
            await session.delete(assignment)
            audit.record(
                session,
                actor=actor,
                at=self._clock.now(),
                entity="tariff_assignment",
                entity_id=assignment_id,
                action="delete",
                operator_id=owner,
                before={"tariff_id": assignment.tariff_id, "target": assignment.target},
            )

    async def assignments(
        self,
        *,
        principal: Principal | None = None,
        tariff_id: int | None = None,
        station_id: str | None = None,
        area_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[TariffAssignment], int]:
        """Assignments on areas and stations the caller may see."""
        scope = Scope.of(principal)
        query = select(TariffAssignment)
        if not scope.everything:
            query = query.where(
                or_(
                    TariffAssignment.area_id.in_(select(Area.id).where(scope.operators(Area.operator_id))),
                    TariffAssignment.station_id.in_(scope.station_ids()),
                )
            )
        if tariff_id is not None:
            query = query.where(TariffAssignment.tariff_id == tariff_id)
        if station_id is not None:
            query = query.where(TariffAssignment.station_id == station_id)
        if area_id is not None:
            query = query.where(TariffAssignment.area_id == area_id)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(TariffAssignment.id).limit(limit).offset(offset))
            return list(rows), total

    async def resolve(
        self,
        station_id: str,
        connector_id: int,
        *,
        id_tag: str | None = None,
        at: datetime | None = None,
        principal: Principal | None = None,
    ) -> Resolution | None:
        """The tariff that would price a session starting `at` (default now) on this connector."""
        async with self._db.read() as session:
            if not await Scope.of(principal).sees_station(session, station_id):
                raise NotFound(f"station {station_id!r} does not exist")
            return await resolve(session, station_id, connector_id, id_tag, at or self._clock.now())

    async def tariffs(self) -> list[Tariff]:
        """Every stored tariff as the engine's model (an OCPI Tariffs module source)."""
        async with self._db.read() as session:
            rows = await session.scalars(select(TariffRecord).order_by(TariffRecord.id))
            return [parse_tariff(r.data) for r in rows]

    async def tariff_for(self, station_id: str, connector_id: int) -> Tariff | None:
        """The tariff for everybody on this connector now (an OCPI Tariffs module source)."""
        async with self._db.read() as session:
            found = await resolve(session, station_id, connector_id, None, self._clock.now())
        return None if found is None else found.tariff.tariff


async def resolve(
    session: AsyncSession,
    station_id: str,
    connector_id: int,
    id_tag: str | None,
    at: datetime,
    *,
    recorded_at: datetime | None = None,
) -> Resolution | None:
    """The tariff in force for a session starting `at` (see the module docstring for the order).

    Of the winning tariff, the version saved last before `at` prices the session; for a session that
    started before the tariff's first version (a charger's clock, an offline start), the version in
    force when the start was recorded (`recorded_at`). So a tariff changed after a session started
    never reprices it, however late the snapshot is taken.
    """
    levels: list[tuple[str, str]] = [
        ("connector", f"connector:{station_id}/{connector_id}"),
        ("station", f"station:{station_id}"),
    ]
    levels.extend(("area", f"area:{area_id}") for area_id in await _area_chain(session, station_id))
    groups = await _driver_groups(session, id_tag)
    rows = await session.execute(
        select(TariffAssignment, TariffRecord)
        .join(TariffRecord, TariffRecord.id == TariffAssignment.tariff_id)
        .where(TariffAssignment.target.in_([key for _, key in levels]))
    )
    by_target: dict[str, list[tuple[TariffAssignment, TariffRecord]]] = {}
    for assignment, record in rows:
        by_target.setdefault(assignment.target, []).append((assignment, record))
    for level, key in levels:
        found = by_target.get(key, [])
        # A driver group's own price comes before everybody's price at the same level.
        found.sort(key=lambda pair: pair[0].driver_group_operator_id is None)
        for assignment, record in found:
            group = assignment.driver_group_operator_id
            if group is not None and group not in groups:
                continue
            view = await _version_in_force(session, _view(record), at, recorded_at)
            if not view.tariff.is_active_at(at):
                continue
            return Resolution(view, level, assignment.id, group)
    return None


async def _version_in_force(
    session: AsyncSession, view: TariffView, at: datetime, recorded_at: datetime | None
) -> TariffView:
    for moment in (at, recorded_at):
        if moment is None:
            continue
        version = await session.scalar(
            select(TariffVersion)
            .where(TariffVersion.tariff_id == view.id, TariffVersion.created_at <= moment)
            .order_by(TariffVersion.version.desc())
            .limit(1)
        )
        if version is not None:
            if version.version == view.version:
                return view
            return dataclasses.replace(view, version=version.version, data=version.data)
    return view


async def _area_chain(session: AsyncSession, station_id: str) -> list[int]:
    area_id = await session.scalar(select(Station.area_id).where(Station.id == station_id))
    chain: list[int] = []
    while area_id is not None and area_id not in chain and len(chain) < _MAX_AREA_DEPTH:
        chain.append(area_id)
        area_id = await session.scalar(select(Area.parent_id).where(Area.id == area_id))
    return chain


async def _driver_groups(session: AsyncSession, id_tag: str | None) -> set[int]:
    """The operators whose private network the token is in (a member, or its group id admitted)."""
    if not id_tag:
        return set()
    token = (await session.execute(select(IdToken.id, IdToken.group_id).where(IdToken.uid == id_tag))).first()
    if token is None:
        return set()
    members = await session.scalars(
        select(NetworkMember.operator_id).where(NetworkMember.id_token_id == token[0])
    )
    groups = set(members)
    if token[1]:
        admitting = await session.execute(select(Operator.id, Operator.private_network_groups))
        groups.update(op_id for op_id, admitted in admitting if token[1] in (admitted or []))
    return groups


def _parse(data: Mapping[str, object], placeholder: str | None, now: datetime) -> Tariff:
    body = dict(data)
    body.pop("operator_id", None)  # ours, not OCPI's
    if placeholder is not None:
        body["id"] = placeholder
    body["last_updated"] = iso_utc(now)
    tariff = parse_tariff(body)
    check_currency(tariff.currency)
    return tariff


def _version(row: TariffRecord, actor: Principal | None, now: datetime) -> TariffVersion:
    return TariffVersion(
        tariff_id=row.id, version=row.version, data=row.data, created_at=now, created_by=_who(actor)
    )


def _who(actor: Principal | None) -> str:
    return actor.email if actor is not None else audit.SYSTEM


def _group_key(operator_id: int | None) -> str:
    return "" if operator_id is None else f"op:{operator_id}"


def _owner_for(scope: Scope, operator_id: int | None) -> int | None:
    """The operator a new tariff belongs to: an operator user's own; an admin's choice (None: platform)."""
    if scope.everything:
        return operator_id
    if operator_id is not None and operator_id != scope.operator_id:
        raise InvalidInput(f"operator {operator_id} does not exist")
    if scope.operator_id is None:
        raise Forbidden("a user without an operator cannot create tariffs")
    return scope.operator_id


def _visible(scope: Scope) -> Any:
    if scope.everything:
        return TariffRecord.id.is_not(None)
    return or_(TariffRecord.operator_id.is_(None), TariffRecord.operator_id == scope.operator_id)


async def _load(
    session: AsyncSession, tariff_id: int, scope: Scope, *, invalid: bool = False
) -> TariffRecord:
    row = await session.get(TariffRecord, tariff_id)
    if row is None or not (scope.everything or row.operator_id in (None, scope.operator_id)):
        message = f"tariff {tariff_id} does not exist"
        raise InvalidInput(message) if invalid else NotFound(message)
    return row


def _check_writable(scope: Scope, row: TariffRecord) -> None:
    if not scope.everything and row.operator_id != scope.operator_id:
        raise Forbidden(f"tariff {row.ocpi_id!r} is the platform's; only platform admins may change it")


async def _target_operator(session: AsyncSession, target: Target, scope: Scope) -> int | None:
    """The operator that owns the target (InvalidInput when the target is unknown or out of scope)."""
    if target.area_id is not None:
        area = await session.get(Area, target.area_id)
        if area is None or not (scope.everything or scope.sees_operator(area.operator_id)):
            raise InvalidInput(f"area {target.area_id} does not exist")
        return area.operator_id
    assert target.station_id is not None
    if not await scope.sees_station(session, target.station_id):
        raise InvalidInput(f"station {target.station_id!r} does not exist")
    return await session.scalar(
        select(Area.operator_id)
        .select_from(Station)
        .join(Area, Station.area_id == Area.id)
        .where(Station.id == target.station_id)
    )

"""Private networks: an operator's invisible stations serve only the id tokens it admitted.

A visible station is public. An invisible one is hidden from public listings (and, later, OCPI
Locations), and at authorization it accepts only tokens that are members of its operator's network,
plus tokens whose group id (OCPP parent idTag) the operator accepts platform-wide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.core.clock import Clock
from voltbridge.core.errors import InvalidInput, NotFound
from voltbridge.core.operators import audit
from voltbridge.core.operators.drivers import search_filter
from voltbridge.core.operators.operators import load_operator
from voltbridge.core.operators.scope import Scope, require_writer
from voltbridge.store import Database
from voltbridge.store.models import IdToken
from voltbridge.store.models.operators import Area, Driver, DriverToken, NetworkMember, Operator
from voltbridge.store.models.stations import Station

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

# Searching the platform's customers needs a few characters, so it cannot list them all.
MIN_CANDIDATE_SEARCH = 3

RecordEvent = Callable[[str, str, dict[str, object]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Member:
    """An id token admitted to an operator's private network, and who holds it."""

    operator_id: int
    id_token: str
    token_status: str
    driver_id: int | None
    driver_name: str | None
    driver_email: str | None
    granted_at: datetime
    granted_by: str | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A driver an operator may admit: who it is and whether its tokens are members already."""

    driver_id: int
    name: str
    email: str | None
    id_tokens: int
    members: int


def _members_query(operator_id: int) -> Select[NetworkMember, IdToken, Driver | None]:
    return (
        select(NetworkMember, IdToken, Driver)
        .join(IdToken, IdToken.id == NetworkMember.id_token_id)
        .outerjoin(DriverToken, DriverToken.id_token_id == IdToken.id)
        .outerjoin(Driver, Driver.id == DriverToken.driver_id)
        .where(NetworkMember.operator_id == operator_id)
    )


def _member(row: NetworkMember, token: IdToken, driver: Driver | None) -> Member:
    return Member(
        operator_id=row.operator_id,
        id_token=token.uid,
        token_status=token.status,
        driver_id=driver.id if driver else None,
        driver_name=driver.name if driver else None,
        driver_email=driver.email if driver else None,
        granted_at=row.granted_at,
        granted_by=row.granted_by,
    )


class NetworkService:
    """Grants and revokes membership of an operator's private network; lists and searches members."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def grant(
        self,
        operator_id: int,
        *,
        id_token: str | None = None,
        driver_id: int | None = None,
        actor: Principal | None = None,
    ) -> list[Member]:
        """Admit one id token, or every token a driver holds. Admitting a member again changes nothing."""
        if (id_token is None) == (driver_id is None):
            raise InvalidInput("give either id_token (a uid) or driver_id")
        require_writer(actor)
        async with self._db.transaction() as session:
            operator = await load_operator(session, operator_id, Scope.of(actor))
            if id_token is not None:
                token = await session.scalar(select(IdToken).where(IdToken.uid == id_token))
                if token is None:
                    raise NotFound(f"id token {id_token!r} does not exist")
                tokens = [token]
            else:
                driver = await session.get(Driver, driver_id)
                if driver is None:
                    raise NotFound(f"driver {driver_id} does not exist")
                tokens = list(
                    await session.scalars(
                        select(IdToken)
                        .join(DriverToken, DriverToken.id_token_id == IdToken.id)
                        .where(DriverToken.driver_id == driver.id)
                        .order_by(IdToken.uid)
                    )
                )
                if not tokens:
                    raise InvalidInput(f"driver {driver_id} holds no id tokens; give it one first")
            now = self._clock.now()
            for token in tokens:
                known = await session.scalar(
                    select(NetworkMember.id).where(
                        NetworkMember.operator_id == operator.id, NetworkMember.id_token_id == token.id
                    )
                )
                if known is not None:
                    continue
                session.add(
                    NetworkMember(
                        operator_id=operator.id,
                        id_token_id=token.id,
                        granted_at=now,
                        granted_by=actor.email if actor else audit.SYSTEM,
                    )
                )
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="membership",
                    entity_id=f"{operator.id}:{token.uid}",
                    action="grant",
                    operator_id=operator.id,
                    after={"operator": operator.code, "id_token": token.uid},
                )
            await session.flush()
            rows = await session.execute(
                _members_query(operator.id)
                .where(IdToken.id.in_([t.id for t in tokens]))
                .order_by(IdToken.uid)
            )
            return [_member(*row) for row in rows]

    async def revoke(self, operator_id: int, id_token: str, *, actor: Principal | None = None) -> None:
        """Remove a token from the network; NotFound if it is not a member."""
        require_writer(actor)
        async with self._db.transaction() as session:
            operator = await load_operator(session, operator_id, Scope.of(actor))
            row = await session.scalar(
                select(NetworkMember)
                .join(IdToken, IdToken.id == NetworkMember.id_token_id)
                .where(NetworkMember.operator_id == operator.id, IdToken.uid == id_token)
            )
            if row is None:
                raise NotFound(
                    f"id token {id_token!r} is not a member of operator {operator.code!r}'s network"
                )
            await session.delete(row)
            audit.record(
                session,
                actor=actor,
                at=self._clock.now(),
                entity="membership",
                entity_id=f"{operator.id}:{id_token}",
                action="revoke",
                operator_id=operator.id,
                before={"operator": operator.code, "id_token": id_token},
            )

    async def members(
        self,
        operator_id: int,
        *,
        principal: Principal | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Member], int]:
        """The network's members by uid; `search` matches the uid or the driver's name, email or reference."""
        async with self._db.read() as session:
            operator = await load_operator(session, operator_id, Scope.of(principal))
            query = _members_query(operator.id)
            if search:
                pattern = f"%{search.lower()}%"
                query = query.where(
                    or_(func.lower(IdToken.uid).like(pattern), search_filter(search, uids=False))
                )
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.execute(query.order_by(IdToken.uid).limit(limit).offset(offset))
            return [_member(*row) for row in rows], total

    async def candidates(
        self, operator_id: int, search: str, *, principal: Principal | None = None, limit: int = 20
    ) -> list[Candidate]:
        """Active drivers matching `search` (at least 3 characters), to admit to the network."""
        if len(search.strip()) < MIN_CANDIDATE_SEARCH:
            raise InvalidInput(f"search for customers with at least {MIN_CANDIDATE_SEARCH} characters")
        async with self._db.read() as session:
            operator = await load_operator(session, operator_id, Scope.of(principal))
            tokens = select(func.count()).where(DriverToken.driver_id == Driver.id).scalar_subquery()
            members = (
                select(func.count())
                .select_from(DriverToken)
                .join(NetworkMember, NetworkMember.id_token_id == DriverToken.id_token_id)
                .where(DriverToken.driver_id == Driver.id, NetworkMember.operator_id == operator.id)
                .scalar_subquery()
            )
            rows = await session.execute(
                select(Driver, tokens, members)
                .where(Driver.active.is_(True), search_filter(search.strip()))
                .order_by(Driver.name, Driver.id)
                .limit(limit)
            )
            return [Candidate(d.id, d.name, d.email, n or 0, m or 0) for d, n, m in rows]


def public_stations() -> ColumnElement[bool]:
    """A filter on stations for public listings (OCPI Locations, maps): only the visible ones."""
    return Station.visible.is_(True)


class PrivateNetworkRule:
    """The authorization rule of private networks (a `StationRule` for AuthorizationService)."""

    def __init__(self, db: Database, *, record_event: RecordEvent | None = None) -> None:
        self._db = db
        self._record = record_event

    async def refuse(self, station_id: str, id_tag: str) -> str | None:
        """A reason to refuse `id_tag` at an invisible station whose operator did not admit it."""
        async with self._db.read() as session:
            reason = await _refusal(session, station_id, id_tag)
        if reason is not None and self._record is not None:
            await self._record(station_id, "private_network_refused", {"id_tag": id_tag, "reason": reason})
        return reason


async def _refusal(session: AsyncSession, station_id: str, id_tag: str) -> str | None:
    place = (
        await session.execute(
            select(Station.visible, Operator.id, Operator.code, Operator.private_network_groups)
            .select_from(Station)
            .outerjoin(Area, Station.area_id == Area.id)
            .outerjoin(Operator, Operator.id == Area.operator_id)
            .where(Station.id == station_id)
        )
    ).first()
    # A visible station is public; an invisible one without an operator has no network to keep.
    if place is None or place[0] or place[1] is None:
        return None
    _, operator_id, code, groups = place
    token = (await session.execute(select(IdToken.id, IdToken.group_id).where(IdToken.uid == id_tag))).first()
    if token is None:
        return f"station {station_id!r} is private to operator {code!r}; id token {id_tag!r} is unknown"
    member = await session.scalar(
        select(
            exists().where(NetworkMember.operator_id == operator_id, NetworkMember.id_token_id == token[0])
        )
    )
    if member:
        return None
    if token[1] is not None and token[1] in (groups or []):
        return None
    return (
        f"station {station_id!r} is private to operator {code!r} and id token {id_tag!r} is not a member "
        "of its private network"
    )


async def admit_created_token(
    session: AsyncSession, token: IdToken, *, actor: Principal | None, at: datetime
) -> None:
    """A token an operator user creates joins that operator's private network (else it could not see it).

    Called by TokenService inside the unit of work that creates the token (after a flush gave it an id).
    """
    scope = Scope.of(actor)
    if scope.everything or actor is None:
        return
    if scope.operator_id is None:
        raise InvalidInput(f"{actor.email} belongs to no operator and cannot create id tokens")
    session.add(
        NetworkMember(
            operator_id=scope.operator_id, id_token_id=token.id, granted_at=at, granted_by=actor.email
        )
    )
    audit.record(
        session,
        actor=actor,
        at=at,
        entity="membership",
        entity_id=f"{scope.operator_id}:{token.uid}",
        action="grant",
        operator_id=scope.operator_id,
        after={"id_token": token.uid, "reason": "created by an operator user"},
    )

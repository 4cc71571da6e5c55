"""Drivers (customers) and the id tokens they hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.core.operators import audit
from voltbridge.core.operators.scope import Scope, require_admin
from voltbridge.store import Database
from voltbridge.store.models import IdToken
from voltbridge.store.models.operators import Driver, DriverToken

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal


class DriverFields(TypedDict, total=False):
    """A driver's changeable fields; `id_tokens` (uids) replaces the set of tokens the driver holds."""

    name: str
    email: str | None
    phone: str | None
    reference: str | None
    active: bool
    id_tokens: list[str]


@dataclass(frozen=True, slots=True)
class DriverView:
    """A driver with the uids of the tokens it holds."""

    driver: Driver
    id_tokens: list[str]


def driver_filter(scope: Scope) -> ColumnElement[bool]:
    """Drivers in scope: for an operator user, those holding a token of its private network."""
    return exists().where(DriverToken.driver_id == Driver.id, scope.id_tokens(DriverToken.id_token_id))


class DriverService:
    """Drivers are the platform's customers; platform admins manage them, operators find and admit them."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, fields: DriverFields, *, actor: Principal | None = None) -> DriverView:
        """Create a driver, optionally holding existing id tokens."""
        require_admin(actor, "create drivers")
        if not fields.get("name", "").strip():
            raise InvalidInput("a driver needs a name")
        now = self._clock.now()
        driver = Driver(active=True, created_at=now, updated_at=now)
        try:
            async with self._db.transaction() as session:
                _apply(driver, fields)
                session.add(driver)
                await session.flush()
                uids = await _hold(session, driver, fields.get("id_tokens", []))
                _, after = audit.changes({}, {**_snapshot(driver), "id_tokens": uids})
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="driver",
                    entity_id=driver.id,
                    action="create",
                    after=after,
                )
        except IntegrityError as exc:
            raise Conflict(f"a driver with email {fields.get('email')!r} already exists") from exc
        return DriverView(driver, uids)

    async def get(self, driver_id: int, *, principal: Principal | None = None) -> DriverView:
        """One driver (404 when unknown or, for an operator user, not in its private network)."""
        async with self._db.read() as session:
            driver = await _load(session, driver_id, Scope.of(principal))
            return DriverView(driver, await _uids(session, driver.id))

    async def get_all(
        self,
        *,
        principal: Principal | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[DriverView], int]:
        """Drivers in the caller's scope by name; `search` matches name, email, reference or a token uid."""
        query = select(Driver).where(driver_filter(Scope.of(principal)))
        if search:
            query = query.where(search_filter(search))
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = (
                await session.scalars(query.order_by(Driver.name, Driver.id).limit(limit).offset(offset))
            ).all()
            tokens = await uids_of(session, [d.id for d in rows])
            return [DriverView(d, tokens.get(d.id, [])) for d in rows], total

    async def update(
        self, driver_id: int, fields: DriverFields, *, actor: Principal | None = None
    ) -> DriverView:
        """Change a driver; `id_tokens`, when given, replaces the tokens it holds."""
        try:
            async with self._db.transaction() as session:
                driver = await _load(session, driver_id, Scope.of(actor))
                require_admin(actor, "change drivers")
                uids = await _uids(session, driver.id)
                before = {**_snapshot(driver), "id_tokens": uids}
                _apply(driver, fields)
                if "id_tokens" in fields:
                    await session.execute(delete(DriverToken).where(DriverToken.driver_id == driver.id))
                    uids = await _hold(session, driver, fields["id_tokens"])
                old, new = audit.changes(before, {**_snapshot(driver), "id_tokens": uids})
                if new:
                    now = self._clock.now()
                    driver.updated_at = now
                    audit.record(
                        session,
                        actor=actor,
                        at=now,
                        entity="driver",
                        entity_id=driver.id,
                        action="update",
                        before=old,
                        after=new,
                    )
        except IntegrityError as exc:
            raise Conflict(f"a driver with email {fields.get('email')!r} already exists") from exc
        return DriverView(driver, uids)

    async def delete(self, driver_id: int, *, actor: Principal | None = None) -> None:
        """Delete a driver; its id tokens stay (they may still be members of private networks)."""
        async with self._db.transaction() as session:
            driver = await _load(session, driver_id, Scope.of(actor))
            require_admin(actor, "delete drivers")
            before = {**_snapshot(driver), "id_tokens": await _uids(session, driver.id)}
            await session.execute(delete(DriverToken).where(DriverToken.driver_id == driver.id))
            await session.delete(driver)
            old, _ = audit.changes(before, dict.fromkeys(before))
            audit.record(
                session,
                actor=actor,
                at=self._clock.now(),
                entity="driver",
                entity_id=driver_id,
                action="delete",
                before=old,
            )


def search_filter(search: str, *, uids: bool = True) -> ColumnElement[bool]:
    """Drivers whose name, email or reference contains the text, or (`uids`) who hold a token whose uid does.

    Leave `uids` off in a query that already joins the driver's tokens (and match IdToken.uid there).
    """
    pattern = f"%{search.lower()}%"
    fields = (
        func.lower(Driver.name).like(pattern),
        func.lower(Driver.email).like(pattern),
        func.lower(Driver.reference).like(pattern),
    )
    if not uids:
        return or_(*fields)
    return or_(
        *fields,
        exists().where(
            DriverToken.driver_id == Driver.id,
            DriverToken.id_token_id == IdToken.id,
            func.lower(IdToken.uid).like(pattern),
        ),
    )


async def uids_of(session: AsyncSession, driver_ids: Sequence[int]) -> dict[int, list[str]]:
    """The token uids each driver holds."""
    result: dict[int, list[str]] = {}
    if not driver_ids:
        return result
    rows = await session.execute(
        select(DriverToken.driver_id, IdToken.uid)
        .join(IdToken, IdToken.id == DriverToken.id_token_id)
        .where(DriverToken.driver_id.in_(driver_ids))
        .order_by(IdToken.uid)
    )
    for driver_id, uid in rows:
        result.setdefault(driver_id, []).append(uid)
    return result


async def _uids(session: AsyncSession, driver_id: int) -> list[str]:
    return (await uids_of(session, [driver_id])).get(driver_id, [])


async def _load(session: AsyncSession, driver_id: int, scope: Scope) -> Driver:
    driver = await session.scalar(select(Driver).where(Driver.id == driver_id, driver_filter(scope)))
    if driver is None:
        raise NotFound(f"driver {driver_id} does not exist")
    return driver


async def _hold(session: AsyncSession, driver: Driver, uids: Sequence[str]) -> list[str]:
    """Give the driver these tokens; a token another driver holds is a Conflict, an unknown one invalid."""
    wanted = sorted(set(uids))
    for uid in wanted:
        token = await session.scalar(select(IdToken).where(IdToken.uid == uid))
        if token is None:
            raise InvalidInput(f"id token {uid!r} does not exist; create it first")
        holder = await session.scalar(
            select(DriverToken.driver_id).where(DriverToken.id_token_id == token.id)
        )
        if holder is not None and holder != driver.id:
            raise Conflict(f"id token {uid!r} is already held by driver {holder}")
        if holder is None:
            session.add(DriverToken(id_token_id=token.id, driver_id=driver.id))
    return wanted


def _snapshot(driver: Driver) -> dict[str, object]:
    return {k: getattr(driver, k) for k in ("name", "email", "phone", "reference", "active")}


def _apply(driver: Driver, fields: DriverFields) -> None:
    if "name" in fields:
        if not fields["name"].strip():
            raise InvalidInput("a driver needs a name")
        driver.name = fields["name"].strip()
    if "email" in fields:
        email = (fields["email"] or "").strip().lower() or None
        if email is not None and "@" not in email:
            raise InvalidInput("email must be an e-mail address")
        driver.email = email
    for name in ("phone", "reference"):
        if name in fields:
            setattr(driver, name, fields[name] or None)
    if "active" in fields:
        driver.active = fields["active"]

"""Operators: the businesses that own chargers. Create, read, update, delete, keys and settings."""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.core.operators import audit
from voltbridge.core.operators.money import Money, check_currency
from voltbridge.core.operators.scope import Scope, require_admin
from voltbridge.core.operators.timezones import check_timezone
from voltbridge.core.security import new_token, token_digest
from voltbridge.store import Database
from voltbridge.store.models import User
from voltbridge.store.models.operators import Area, NetworkMember, Operator
from voltbridge.store.models.stations import Station

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

STATUSES = ("active", "inactive")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_NON_NEGATIVE = (
    "rating_min_duration_s",
    "rating_min_energy_wh",
    "idle_after_minutes",
    "idle_stop_tracking_after_minutes",
    "energy_step_delta_wh",
)


class OperatorFields(TypedDict, total=False):
    """An operator's changeable fields; a key left out is unchanged (on update) or defaulted."""

    name: str
    status: str
    organisation_name: str | None
    address: str | None
    phone: str | None
    country: str | None
    state: str | None
    city: str | None
    zip: str | None
    timezone: str
    rating_min_duration_s: int
    rating_min_energy_wh: int
    rating_rate_idle: bool
    idle_after_minutes: int | None
    idle_stop_tracking_after_minutes: int | None
    energy_step_delta_wh: int | None
    session_limit: Money | None
    private_network_groups: list[str]


# What the audit log shows of an operator (never the security key's hash).
AUDITED = (
    "code",
    *OperatorFields.__annotations__.keys(),
)


@dataclass(frozen=True, slots=True)
class NewOperator:
    """A created operator and its security key, which is shown this once and never stored."""

    operator: Operator
    security_key: str


@dataclass(frozen=True, slots=True)
class StationSettings:
    """The operator settings that apply to one station's sessions (for metering, rating, tariffs)."""

    operator_id: int
    operator_code: str
    timezone: str
    rating_min_duration_s: int
    rating_min_energy_wh: int
    rating_rate_idle: bool
    idle_after_minutes: int | None
    idle_stop_tracking_after_minutes: int | None
    energy_step_delta_wh: int | None
    session_limit: Money | None


def session_limit(operator: Operator) -> Money | None:
    """The operator's monetary session limit, if it has one."""
    if operator.session_limit_amount is None or operator.session_limit_currency is None:
        return None
    return Money(operator.session_limit_amount, operator.session_limit_currency)


def snapshot(operator: Operator) -> dict[str, object]:
    """The operator's audited fields as they are now."""
    values: dict[str, object] = {name: getattr(operator, name) for name in AUDITED if name != "session_limit"}
    limit = session_limit(operator)
    values["session_limit"] = None if limit is None else {"amount": limit.amount, "currency": limit.currency}
    return values


class OperatorService:
    """Every change to an operator goes through here; each one is written to the audit log."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self, code: str, fields: OperatorFields, *, actor: Principal | None = None
    ) -> NewOperator:
        """Create an operator; its code can never change afterwards."""
        require_admin(actor, "create operators")
        _check_code(code)
        if "name" not in fields or not fields["name"].strip():
            raise InvalidInput("an operator needs a name")
        now = self._clock.now()
        key = new_token("opk")
        operator = Operator(
            code=code,
            status="active",
            timezone="UTC",
            rating_min_duration_s=0,
            rating_min_energy_wh=0,
            rating_rate_idle=False,
            private_network_groups=[],
            security_key_hash=token_digest(key),
            security_key_prefix=key[:10],
            security_key_rotated_at=now,
            created_at=now,
            updated_at=now,
        )
        _apply(operator, fields)
        try:
            async with self._db.transaction() as session:
                await _check_code_free(session, code)
                session.add(operator)
                await session.flush()
                _, after = audit.changes({}, snapshot(operator))
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="operator",
                    entity_id=operator.id,
                    action="create",
                    operator_id=operator.id,
                    after=after,
                )
        except IntegrityError as exc:
            raise Conflict(f"operator code {code!r} is already taken") from exc
        return NewOperator(operator, key)

    async def get(self, operator_id: int, *, principal: Principal | None = None) -> Operator:
        """One operator (404 when it does not exist or is outside the caller's scope)."""
        async with self._db.read() as session:
            return await load_operator(session, operator_id, Scope.of(principal))

    async def get_by_code(self, code: str, *, principal: Principal | None = None) -> Operator:
        """One operator by its code (404 when unknown or outside the caller's scope)."""
        scope = Scope.of(principal)
        async with self._db.read() as session:
            operator = await session.scalar(select(Operator).where(Operator.code == code))
            if operator is None or not scope.sees_operator(operator.id):
                raise NotFound(f"operator {code!r} does not exist")
            return operator

    async def get_all(
        self,
        *,
        principal: Principal | None = None,
        search: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[Sequence[Operator], int]:
        """Operators in the caller's scope, by code; `search` matches code, name or organisation."""
        query = select(Operator).where(Scope.of(principal).operators(Operator.id))
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(
                or_(
                    func.lower(Operator.code).like(pattern),
                    func.lower(Operator.name).like(pattern),
                    func.lower(Operator.organisation_name).like(pattern),
                )
            )
        if status is not None:
            query = query.where(Operator.status == status)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(Operator.code).limit(limit).offset(offset))
            return rows.all(), total

    async def update(
        self,
        operator_id: int,
        fields: OperatorFields,
        *,
        code: str | None = None,
        actor: Principal | None = None,
    ) -> Operator:
        """Change an operator. `code` may be given only if it is the current one (it is immutable)."""
        async with self._db.transaction() as session:
            operator = await load_operator(session, operator_id, Scope.of(actor))
            require_admin(actor, "change operators")
            if code is not None and code != operator.code:
                raise Conflict(
                    f"the code of operator {operator.code!r} cannot change (asked: {code!r}): other systems "
                    "use it to name the operator; create a new operator instead"
                )
            before = snapshot(operator)
            _apply(operator, fields)
            old, new = audit.changes(before, snapshot(operator))
            if new:
                now = self._clock.now()
                operator.updated_at = now
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="operator",
                    entity_id=operator.id,
                    action="update",
                    operator_id=operator.id,
                    before=old,
                    after=new,
                )
        return operator

    async def delete(self, operator_id: int, *, actor: Principal | None = None) -> None:
        """Delete an operator nothing refers to; otherwise Conflict naming what still does."""
        async with self._db.transaction() as session:
            operator = await load_operator(session, operator_id, Scope.of(actor))
            require_admin(actor, "delete operators")
            references = await _references(session, operator.id)
            if references:
                raise Conflict(
                    f"operator {operator.code!r} is still referenced by {'; '.join(references)}; "
                    "remove or reassign them first"
                )
            before = snapshot(operator)
            await session.delete(operator)
            old, _ = audit.changes(before, {k: None for k in before})
            audit.record(
                session,
                actor=actor,
                at=self._clock.now(),
                entity="operator",
                entity_id=operator_id,
                action="delete",
                operator_id=operator_id,
                before=old,
            )

    async def rotate_security_key(self, operator_id: int, *, actor: Principal | None = None) -> NewOperator:
        """Replace the operator's security key; the new one is returned this once, the old one stops working."""
        key = new_token("opk")
        async with self._db.transaction() as session:
            operator = await load_operator(session, operator_id, Scope.of(actor))
            require_admin(actor, "rotate security keys")
            now = self._clock.now()
            operator.security_key_hash = token_digest(key)
            operator.security_key_prefix = key[:10]
            operator.security_key_rotated_at = now
            operator.updated_at = now
            audit.record(
                session,
                actor=actor,
                at=now,
                entity="operator",
                entity_id=operator.id,
                action="rotate_security_key",
                operator_id=operator.id,
                after={"security_key_prefix": key[:10]},
            )
        return NewOperator(operator, key)

    async def check_security_key(self, code: str, key: str) -> Operator | None:
        """The active operator with this code if `key` is its current security key, else None."""
        async with self._db.read() as session:
            operator = await session.scalar(select(Operator).where(Operator.code == code))
        if operator is None or operator.status != "active" or operator.security_key_hash is None:
            return None
        return operator if hmac.compare_digest(operator.security_key_hash, token_digest(key)) else None

    async def settings_for_station(self, station_id: str) -> StationSettings | None:
        """The settings of the operator that owns the station (through its area), or None."""
        async with self._db.read() as session:
            operator = await session.scalar(
                select(Operator)
                .join(Area, Area.operator_id == Operator.id)
                .join(Station, Station.area_id == Area.id)
                .where(Station.id == station_id)
            )
        if operator is None:
            return None
        return StationSettings(
            operator_id=operator.id,
            operator_code=operator.code,
            timezone=operator.timezone,
            rating_min_duration_s=operator.rating_min_duration_s,
            rating_min_energy_wh=operator.rating_min_energy_wh,
            rating_rate_idle=operator.rating_rate_idle,
            idle_after_minutes=operator.idle_after_minutes,
            idle_stop_tracking_after_minutes=operator.idle_stop_tracking_after_minutes,
            energy_step_delta_wh=operator.energy_step_delta_wh,
            session_limit=session_limit(operator),
        )


async def load_operator(session: AsyncSession, operator_id: int, scope: Scope) -> Operator:
    """The operator, or NotFound when it does not exist or is outside the scope."""
    operator = await session.get(Operator, operator_id)
    if operator is None or not scope.sees_operator(operator.id):
        raise NotFound(f"operator {operator_id} does not exist")
    return operator


def _check_code(code: str) -> None:
    if not _CODE.match(code):
        raise InvalidInput(
            "operator code must be 1 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )


async def _check_code_free(session: AsyncSession, code: str) -> None:
    # Codes differing only in case would confuse the people and systems that type them.
    taken = await session.scalar(select(Operator.code).where(func.lower(Operator.code) == code.lower()))
    if taken is not None:
        raise Conflict(f"operator code {code!r} is already taken (by {taken!r})")


async def _references(session: AsyncSession, operator_id: int) -> list[str]:
    found: list[str] = []
    areas = (
        await session.scalars(select(Area.code).where(Area.operator_id == operator_id).order_by(Area.code))
    ).all()
    if areas:
        found.append(
            f"{len(areas)} charging area(s) ({', '.join(areas[:5])}{', …' if len(areas) > 5 else ''})"
        )
    users = (
        await session.scalars(select(User.email).where(User.operator_id == operator_id).order_by(User.email))
    ).all()
    if users:
        found.append(f"{len(users)} user(s) ({', '.join(users[:5])}{', …' if len(users) > 5 else ''})")
    members = await session.scalar(
        select(func.count()).select_from(NetworkMember).where(NetworkMember.operator_id == operator_id)
    )
    if members:
        found.append(f"{members} private-network member(s)")
    return found


def _apply(operator: Operator, fields: OperatorFields) -> None:
    if "name" in fields:
        if not fields["name"].strip():
            raise InvalidInput("an operator needs a name")
        operator.name = fields["name"].strip()
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        operator.status = fields["status"]
    if "timezone" in fields:
        operator.timezone = check_timezone(fields["timezone"])
    for name in _NON_NEGATIVE:
        if name in fields:
            value = fields[name]  # type: ignore[literal-required]
            if value is not None and value < 0:
                raise InvalidInput(f"{name} must be 0 or more")
    for name in ("organisation_name", "address", "phone", "country", "state", "city", "zip"):
        if name in fields:
            setattr(operator, name, fields[name] or None)  # type: ignore[literal-required]
    for name in (*_NON_NEGATIVE, "rating_rate_idle"):
        if name in fields:
            setattr(operator, name, fields[name])  # type: ignore[literal-required]
    if "session_limit" in fields:
        limit = fields["session_limit"]
        if limit is not None and limit.amount <= 0:
            raise InvalidInput("session_limit must be more than 0 (or null for no limit)")
        operator.session_limit_amount = None if limit is None else limit.amount
        operator.session_limit_currency = None if limit is None else check_currency(limit.currency)
    if "private_network_groups" in fields:
        groups = fields["private_network_groups"]
        if any(not g or len(g) > 36 for g in groups):
            raise InvalidInput("private_network_groups holds id token group ids of 1 to 36 characters")
        operator.private_network_groups = sorted(set(groups))
    _check_decimal_places(operator.session_limit_amount)


def _check_decimal_places(amount: Decimal | None) -> None:
    # The column keeps cents; more places would be rounded silently by the database.
    if amount is not None and amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput("session_limit amount has at most 2 decimal places")

"""Id tokens and the platform's own authorization decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.core.operators.network import admit_created_token
from voltbridge.core.operators.scope import Scope
from voltbridge.store import Database
from voltbridge.store.models import IdToken, Transaction

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

TOKEN_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid")


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    """The authorization answer, in OCPP 1.6 terms (status: Accepted/Blocked/Expired/Invalid/ConcurrentTx)."""

    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == "Accepted"


@dataclass(frozen=True, slots=True)
class TokenChange:
    """Fields of an id token; None means unchanged on update."""

    status: str | None = None
    expires_at: datetime | None = None
    clear_expiry: bool = False
    group_id: str | None = None
    max_concurrent_tx: int | None = None
    description: str | None = None


class TokenService:
    """Id tokens, and whether one may charge now."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, uid: str, change: TokenChange, *, principal: Principal | None = None) -> IdToken:
        _check_uid(uid)
        now = self._clock.now()
        token = IdToken(uid=uid, status="Accepted", max_concurrent_tx=1, created_at=now, updated_at=now)
        _apply(token, change)
        try:
            async with self._db.transaction() as session:
                session.add(token)
                await session.flush()
                await admit_created_token(session, token, actor=principal, at=now)
        except IntegrityError as exc:
            raise Conflict(f"id token {uid!r} already exists") from exc
        return token

    async def update(self, uid: str, change: TokenChange, *, principal: Principal | None = None) -> IdToken:
        async with self._db.transaction() as session:
            token = await _get(session, uid, principal)
            _apply(token, change)
            token.updated_at = self._clock.now()
        return token

    async def delete(self, uid: str, *, principal: Principal | None = None) -> None:
        async with self._db.transaction() as session:
            await session.delete(await _get(session, uid, principal))

    async def get(self, uid: str, *, principal: Principal | None = None) -> IdToken:
        async with self._db.read() as session:
            return await _get(session, uid, principal)

    async def get_all(
        self,
        *,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
        principal: Principal | None = None,
    ) -> tuple[Sequence[IdToken], int]:
        query = select(IdToken).where(Scope.of(principal).id_tokens(IdToken.id))
        if search:
            query = query.where(IdToken.uid.contains(search))
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(IdToken.uid).limit(limit).offset(offset))
            return rows.all(), total

    async def authorize(self, id_tag: str, *, exclude_transaction: int | None = None) -> IdTagInfo:
        """The platform's decision for an idTag: status, expiry, group, and the concurrent-session limit."""
        async with self._db.read() as session:
            token = await session.scalar(select(IdToken).where(IdToken.uid == id_tag))
            if token is None:
                return IdTagInfo("Invalid", reason=f"id token {id_tag!r} is unknown")
            info = IdTagInfo(token.status, token.expires_at, token.group_id)
            if token.status != "Accepted":
                return IdTagInfo(
                    token.status, token.expires_at, token.group_id, f"id token is {token.status}"
                )
            if token.expires_at is not None and token.expires_at <= self._clock.now():
                return IdTagInfo("Expired", token.expires_at, token.group_id, "id token has expired")
            if token.max_concurrent_tx is not None:
                query = select(func.count()).where(
                    Transaction.id_tag == id_tag, Transaction.status == "active"
                )
                if exclude_transaction is not None:
                    query = query.where(Transaction.id != exclude_transaction)
                active = await session.scalar(query) or 0
                if active >= token.max_concurrent_tx:
                    return IdTagInfo(
                        "ConcurrentTx",
                        token.expires_at,
                        token.group_id,
                        f"id token already has {active} active session(s)",
                    )
            return info


async def _get(session: AsyncSession, uid: str, principal: Principal | None = None) -> IdToken:
    # An operator user sees its private network's tokens only; others read as missing.
    token = await session.scalar(
        select(IdToken).where(IdToken.uid == uid, Scope.of(principal).id_tokens(IdToken.id))
    )
    if token is None:
        raise NotFound(f"id token {uid!r} does not exist")
    return token


def _check_uid(uid: str) -> None:
    # OCPP 1.6 IdToken is CiString20; 2.0.1 allows 36. We accept 36 and let 1.6 schemas police the wire.
    if not uid or len(uid) > 36:
        raise InvalidInput("id token uid must be 1 to 36 characters")


def _apply(token: IdToken, change: TokenChange) -> None:
    if change.status is not None:
        if change.status not in TOKEN_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(TOKEN_STATUSES)}")
        token.status = change.status
    if change.expires_at is not None:
        token.expires_at = change.expires_at
    if change.clear_expiry:
        token.expires_at = None
    if change.group_id is not None:
        token.group_id = change.group_id or None
    if change.max_concurrent_tx is not None:
        if change.max_concurrent_tx < 0:
            raise InvalidInput("max_concurrent_tx must be 0 (no limit) or more")
        token.max_concurrent_tx = change.max_concurrent_tx or None
    if change.description is not None:
        token.description = change.description

"""The audit log: who changed what, when, with the changed fields before and after.

Every service that changes operators, areas, users, memberships or settings writes its entry with
`record` inside its own unit of work, so a change and its audit entry commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.core.clock import Clock
from voltbridge.core.timeutil import iso_utc
from voltbridge.store import Database
from voltbridge.store.models.operators import AuditEntry

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

# JSON-ready values as they appear in `before` and `after`.
Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]

SYSTEM = "system"


def plain(value: object) -> Json:
    """A value as the audit log stores it: money and times as strings, lists and dicts as JSON."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def changes(
    before: Mapping[str, object], after: Mapping[str, object]
) -> tuple[dict[str, Json], dict[str, Json]]:
    """The fields whose value differs, as (before, after) dictionaries of plain values."""
    old: dict[str, Json] = {}
    new: dict[str, Json] = {}
    for key in after:
        a, b = plain(before.get(key)), plain(after[key])
        if a != b:
            old[key], new[key] = a, b
    return old, new


def record(
    session: AsyncSession,
    *,
    actor: Principal | None,
    at: datetime,
    entity: str,
    entity_id: str | int,
    action: str,
    operator_id: int | None = None,
    before: Mapping[str, Json] | None = None,
    after: Mapping[str, Json] | None = None,
    note: str | None = None,
) -> None:
    """Add an audit entry to the caller's unit of work."""
    session.add(
        AuditEntry(
            at=at,
            actor=actor.email if actor is not None else SYSTEM,
            actor_user_id=actor.user_id if actor is not None else None,
            entity=entity,
            entity_id=str(entity_id),
            action=action,
            operator_id=operator_id,
            before=dict(before) if before is not None else None,
            after=dict(after) if after is not None else None,
            note=note,
        )
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to list; None means any."""

    entity: str | None = None
    entity_id: str | None = None
    operator_id: int | None = None
    actor: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None


class AuditService:
    """Reads the audit log (platform admins only; the API enforces that)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def get_all(
        self, filter: AuditFilter, *, limit: int = 100, offset: int = 0
    ) -> tuple[Sequence[AuditEntry], int]:
        """Entries matching the filter, newest first, and how many match."""
        query = select(AuditEntry)
        if filter.entity is not None:
            query = query.where(AuditEntry.entity == filter.entity)
        if filter.entity_id is not None:
            query = query.where(AuditEntry.entity_id == filter.entity_id)
        if filter.operator_id is not None:
            query = query.where(AuditEntry.operator_id == filter.operator_id)
        if filter.actor is not None:
            query = query.where(AuditEntry.actor == filter.actor)
        if filter.at_from is not None:
            query = query.where(AuditEntry.at >= filter.at_from)
        if filter.at_to is not None:
            query = query.where(AuditEntry.at < filter.at_to)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
            return rows.all(), total

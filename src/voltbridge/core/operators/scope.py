"""Who may see what: the one place that turns a Principal into SQL filters.

A platform admin (and the platform itself, `principal=None`) sees everything. An operator user sees
its own operator, that operator's charging areas, the stations in those areas, their sessions and
commands, and the id tokens of its private network. Everything else answers as if it did not exist
(404), so an operator user cannot even learn that another operator's station exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from voltbridge.core.errors import Forbidden
from voltbridge.store.models.operators import Area, NetworkMember
from voltbridge.store.models.stations import Station

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal


@dataclass(frozen=True, slots=True)
class Scope:
    """What one caller may see. `operator_id` None with `everything` False: nothing at all."""

    everything: bool
    operator_id: int | None = None

    @classmethod
    def of(cls, principal: Principal | None) -> Scope:
        """The scope of a caller; None is the platform itself (OCPP handlers, jobs)."""
        if principal is None or principal.is_admin:
            return EVERYTHING
        return cls(everything=False, operator_id=principal.operator_id)

    def station_ids(self) -> Select[str]:
        """The ids of the stations in scope, as a subquery (only meaningful when not `everything`)."""
        return (
            select(Station.id)
            .join(Area, Station.area_id == Area.id)
            .where(Area.operator_id == self.operator_id)
        )

    def stations(self, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        """A filter on a station-id column (Station.id, Transaction.station_id, …)."""
        if self.everything:
            return true()
        if self.operator_id is None:
            return false()
        return column.in_(self.station_ids())

    def operators(
        self, column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
    ) -> ColumnElement[bool]:
        """A filter on an operator-id column (Operator.id, Area.operator_id, …)."""
        if self.everything:
            return true()
        if self.operator_id is None:
            return false()
        return column == self.operator_id

    def id_tokens(self, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        """A filter on an id-token id column: the members of the operator's private network."""
        if self.everything:
            return true()
        if self.operator_id is None:
            return false()
        return column.in_(
            select(NetworkMember.id_token_id).where(NetworkMember.operator_id == self.operator_id)
        )

    def sees_operator(self, operator_id: int | None) -> bool:
        """Whether an operator (by id) is in scope."""
        return self.everything or (operator_id is not None and operator_id == self.operator_id)

    async def sees_station(self, session: AsyncSession, station_id: str) -> bool:
        """Whether the station is in scope (an unknown station is not)."""
        if self.everything:
            return True
        found = await session.scalar(
            select(Station.id).where(Station.id == station_id, self.stations(Station.id))
        )
        return found is not None

    async def sees_area(self, session: AsyncSession, area_id: int) -> bool:
        """Whether the charging area is in scope (an unknown area is not)."""
        found = await session.scalar(
            select(Area.id).where(Area.id == area_id, self.operators(Area.operator_id))
        )
        return found is not None


EVERYTHING = Scope(everything=True)


def scope_of(principal: Principal | None) -> Scope:
    """The scope of a caller (see `Scope.of`)."""
    return Scope.of(principal)


def require_admin(actor: Principal | None, what: str) -> None:
    """Forbidden unless the caller is a platform admin (or the platform itself)."""
    if actor is not None and not actor.is_admin:
        raise Forbidden(f"only platform admins may {what}")


def require_writer(actor: Principal | None) -> None:
    """Forbidden for read-only users (the API refuses their writes too; this keeps other edges honest)."""
    if actor is not None and actor.read_only:
        raise Forbidden(f"{actor.email} is read-only and may not change anything")

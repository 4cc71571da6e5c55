"""Commands to chargers: validated, sent through the bus, logged with their outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.bus import Bus, CallRejected, CallTimeout, NotConnected, QueueFull
from voltbridge.core.clock import Clock
from voltbridge.core.errors import NotFound, StationBusy, StationOffline, StationRejected, StationTimeout
from voltbridge.core.events import CommandCompleted
from voltbridge.core.operators.scope import Scope
from voltbridge.core.users.service import Principal
from voltbridge.store import Database
from voltbridge.store.models import CommandLogEntry, Station


class CommandSchema(Protocol):
    """Checks an outgoing payload against the OCPP schema of the station's version.

    Raises InvalidInput for an unknown action or a payload that fails the schema.
    """

    def check(self, ocpp_version: str, action: str, payload: dict[str, Any]) -> None: ...


class CommandService:
    """Sends a command to a station and records what came of it."""

    def __init__(
        self, db: Database, bus: Bus, clock: Clock, schema: CommandSchema, *, default_timeout: float
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._schema = schema
        self._timeout = default_timeout

    async def send(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        source: str = "api",
        requested_by: str | None = None,
        timeout: float | None = None,
        principal: Principal | None = None,
    ) -> dict[str, Any]:
        """Send `action` to the station; returns its answer or raises a StationError.

        `principal` is the caller (None: the platform itself); a station outside its scope is NotFound.
        """
        timeout = timeout or self._timeout
        async with self._db.transaction() as session:
            station = await session.get(Station, station_id)
            if station is None or not await Scope.of(principal).sees_station(session, station_id):
                raise NotFound(f"station {station_id!r} does not exist")
            self._schema.check(station.ocpp_version or "ocpp1.6", action, payload)
            entry = CommandLogEntry(
                station_id=station_id,
                action=action,
                payload=payload,
                source=source,
                requested_by=requested_by,
                status="pending",
                created_at=self._clock.now(),
            )
            session.add(entry)
        try:
            response = await self._bus.call(station_id, action, payload, timeout=timeout)
        except NotConnected as exc:
            await self._finish(entry, "offline")
            raise StationOffline(station_id, action) from exc
        except CallTimeout as exc:
            await self._finish(entry, "timeout")
            raise StationTimeout(station_id, action, timeout) from exc
        except QueueFull as exc:
            await self._finish(entry, "busy")
            raise StationBusy(station_id, action) from exc
        except CallRejected as exc:
            await self._finish(entry, "callerror", code=exc.code, description=exc.description)
            raise StationRejected(station_id, action, exc.code, exc.description) from exc
        await self._finish(entry, "answered", response=response)
        return response

    async def log(
        self,
        *,
        station_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        principal: Principal | None = None,
    ) -> tuple[Sequence[CommandLogEntry], int]:
        """The command log, newest first, limited to the stations the caller may see.

        Naming a station outside the caller's scope (or none that exists) is NotFound.
        """
        scope = Scope.of(principal)
        query = select(CommandLogEntry).where(scope.stations(CommandLogEntry.station_id))
        if station_id is not None:
            query = query.where(CommandLogEntry.station_id == station_id)
        async with self._db.read() as session:
            if station_id is not None and not await _exists(session, station_id, scope):
                raise NotFound(f"station {station_id!r} does not exist")
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(
                query.order_by(CommandLogEntry.id.desc()).limit(limit).offset(offset)
            )
            return rows.all(), total

    async def _finish(
        self,
        entry: CommandLogEntry,
        status: str,
        *,
        response: dict[str, Any] | None = None,
        code: str | None = None,
        description: str | None = None,
    ) -> None:
        async with self._db.transaction() as session:
            row = await session.get(CommandLogEntry, entry.id)
            assert row is not None
            row.status = status
            row.response = response
            row.error_code = code
            row.error_description = description
            row.completed_at = self._clock.now()
        await self._bus.publish(
            CommandCompleted(
                command_id=entry.id, station_id=entry.station_id, action=entry.action, status=status
            )
        )


async def _exists(session: AsyncSession, station_id: str, scope: Scope) -> bool:
    return await session.get(Station, station_id) is not None and await scope.sees_station(
        session, station_id
    )

"""Stations: registration, admission at the handshake, boot, status, presence."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.bus import Bus
from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.core.events import StationBooted, StationConnected, StationDisconnected, StatusChanged
from voltbridge.core.operators.scope import Scope
from voltbridge.core.security import hash_password, token_digest, verify_password
from voltbridge.store import Database
from voltbridge.store.models import Connector, Station, StationEvent, Transaction

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

BOOT_FIELDS = {
    "chargePointVendor": "vendor",
    "chargePointModel": "model",
    "chargePointSerialNumber": "serial_number",
    "chargeBoxSerialNumber": "charge_box_serial_number",
    "firmwareVersion": "firmware_version",
    "iccid": "iccid",
    "imsi": "imsi",
    "meterType": "meter_type",
    "meterSerialNumber": "meter_serial_number",
}


class UnknownStationPolicy(StrEnum):
    REJECT = "reject"
    PENDING = "pending"
    ACCEPT = "accept"


class Admission(StrEnum):
    """The handshake's verdict on a station."""

    ADMITTED = "admitted"
    UNKNOWN = "unknown"  # not registered and the policy rejects strangers
    BAD_PASSWORD = "bad_password"


@dataclass(frozen=True, slots=True)
class BootDecision:
    status: str  # Accepted | Pending | Rejected
    interval: int


@dataclass(frozen=True, slots=True)
class StationUpdate:
    """Fields an API caller may change; None means unchanged."""

    password: str | None = None
    clear_password: bool = False
    description: str | None = None
    lenient: bool | None = None
    registration_status: str | None = None
    ocpp_version: str | None = None


REGISTRATION_STATUSES = ("Accepted", "Pending", "Rejected")
log = logging.getLogger(__name__)

SEEN_RESOLUTION = 60.0  # seconds
SEEN_GATHERING = 1.0  # seconds the heartbeats of all stations are gathered before one write


class StationService:
    """The rules for stations. Every change goes through here."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        clock: Clock,
        *,
        unknown_stations: UnknownStationPolicy,
        heartbeat_interval: int,
        pending_interval: int,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._unknown = unknown_stations
        self._heartbeat_interval = heartbeat_interval
        self._pending_interval = pending_interval
        # Handshakes after a restart come in thousands; argon2 per handshake would cost minutes of CPU.
        # A password verified once is remembered by digest, keyed by the stored hash it matched.
        self._verified: dict[tuple[str, str], str] = {}
        self._seen_written: dict[str, datetime] = {}
        self._seen_pending: dict[str, datetime] = {}
        self._seen_flush: asyncio.Task[None] | None = None

    async def register(
        self,
        station_id: str,
        *,
        password: str | None = None,
        ocpp_version: str | None = None,
        description: str | None = None,
        lenient: bool = False,
        area_id: int | None = None,
        principal: Principal | None = None,
    ) -> Station:
        """Pre-register a station so it is accepted when it connects.

        An operator user must put it into one of its own charging areas, or it could never see it again.
        """
        _check_station_id(station_id)
        if password is not None:
            _check_password(password)
        now = self._clock.now()
        async with self._db.transaction() as session:
            if await session.get(Station, station_id) is not None:
                raise Conflict(f"station {station_id!r} already exists")
            scope = Scope.of(principal)
            if area_id is not None and not await scope.sees_area(session, area_id):
                raise InvalidInput(f"charging area {area_id} does not exist")
            if area_id is None and not scope.everything:
                raise InvalidInput("give area_id: an operator user registers stations into its own areas")
            station = Station(
                id=station_id,
                password_hash=hash_password(password) if password else None,
                ocpp_version=ocpp_version,
                registration_status="Accepted",
                description=description,
                lenient=lenient,
                created_at=now,
                updated_at=now,
            )
            station.area_id, station.visible = area_id, True
            session.add(station)
        return station

    async def update(
        self, station_id: str, change: StationUpdate, *, principal: Principal | None = None
    ) -> Station:
        async with self._db.transaction() as session:
            station = await self._get(session, station_id, principal)
            if change.password is not None:
                _check_password(change.password)
                station.password_hash = hash_password(change.password)
            if change.clear_password:
                station.password_hash = None
            if change.description is not None:
                station.description = change.description
            if change.lenient is not None:
                station.lenient = change.lenient
            if change.ocpp_version is not None:
                station.ocpp_version = change.ocpp_version
            if change.registration_status is not None:
                if change.registration_status not in REGISTRATION_STATUSES:
                    raise InvalidInput(
                        f"registration_status must be one of {', '.join(REGISTRATION_STATUSES)}"
                    )
                station.registration_status = change.registration_status
            station.updated_at = self._clock.now()
        return station

    async def delete(self, station_id: str, *, principal: Principal | None = None) -> None:
        """Forget a station; one with recorded sessions is kept (its history is evidence)."""
        async with self._db.transaction() as session:
            station = await self._get(session, station_id, principal)
            sessions = await session.scalar(
                select(func.count()).select_from(Transaction).where(Transaction.station_id == station_id)
            )
            if sessions:
                raise Conflict(
                    f"station {station_id!r} has {sessions} recorded session(s) and cannot be deleted; "
                    "set its registration_status to Rejected instead"
                )
            await session.delete(station)

    async def get(self, station_id: str, *, principal: Principal | None = None) -> Station:
        async with self._db.read() as session:
            return await self._get(session, station_id, principal)

    async def get_all(
        self, *, limit: int = 100, offset: int = 0, principal: Principal | None = None
    ) -> tuple[Sequence[Station], int]:
        query = select(Station).where(Scope.of(principal).stations(Station.id))
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(Station.id).limit(limit).offset(offset))
            return rows.all(), total

    async def connectors(self, station_ids: Sequence[str]) -> dict[str, list[Connector]]:
        """Connector statuses for the given stations, keyed by station id."""
        result: dict[str, list[Connector]] = {sid: [] for sid in station_ids}
        if not station_ids:
            return result
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Connector)
                .where(Connector.station_id.in_(station_ids))
                .order_by(Connector.station_id, Connector.connector_id)
            )
            for row in rows:
                result[row.station_id].append(row)
        return result

    async def admit(self, station_id: str, password: str | None, *, certificate: bool = False) -> Admission:
        """Decide at the WebSocket handshake whether this station may connect.

        A registered station with a password must present it (HTTP Basic) unless it showed a verified
        client certificate in its name (`certificate`); a stranger is refused, or recorded as Pending /
        Accepted, as the unknown-stations policy says.
        """
        async with self._db.transaction() as session:
            station = await session.get(Station, station_id)
            if station is None:
                if self._unknown is UnknownStationPolicy.REJECT:
                    return Admission.UNKNOWN
                now = self._clock.now()
                status = "Accepted" if self._unknown is UnknownStationPolicy.ACCEPT else "Pending"
                session.add(
                    Station(id=station_id, registration_status=status, created_at=now, updated_at=now)
                )
                return Admission.ADMITTED
            if station.password_hash is None or certificate:
                return Admission.ADMITTED
            if password is None or not self._password_matches(station_id, station.password_hash, password):
                return Admission.BAD_PASSWORD
            return Admission.ADMITTED

    def _password_matches(self, station_id: str, password_hash: str, password: str) -> bool:
        key = (station_id, password_hash)
        digest = token_digest(password)
        if self._verified.get(key) == digest:
            return True
        if not verify_password(password_hash, password):
            return False
        self._verified[key] = digest
        return True

    async def lenient(self, station_id: str) -> bool:
        async with self._db.read() as session:
            station = await session.get(Station, station_id)
            return bool(station and station.lenient)

    async def connected(self, station_id: str, *, ocpp_version: str, node: str) -> None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            station = await self._get(session, station_id)
            station.connected_node = node
            station.connected_at = now
            station.last_seen_at = now
            station.ocpp_version = ocpp_version
        await self._bus.publish(StationConnected(station_id=station_id, ocpp_version=ocpp_version, at=now))

    async def disconnected(self, station_id: str, *, node: str, reason: str) -> None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            # One conditional UPDATE: a newer socket (here or on another node) may own the station
            # already, and a read-then-write would race with its `connected`.
            result = await session.execute(
                update(Station)
                .where(Station.id == station_id, Station.connected_node == node)
                .values(connected_node=None, disconnected_at=now)
            )
        if getattr(result, "rowcount", 0):
            await self._bus.publish(StationDisconnected(station_id=station_id, at=now, reason=reason))

    async def boot(self, station_id: str, boot: dict[str, Any]) -> BootDecision:
        """Record a BootNotification and decide Accepted / Pending / Rejected."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            station = await self._get(session, station_id)
            for wire, column in BOOT_FIELDS.items():
                setattr(station, column, boot.get(wire))
            station.boot_payload = boot
            station.booted_at = now
            station.last_seen_at = now
            station.updated_at = now
            status = station.registration_status
        interval = self._heartbeat_interval if status == "Accepted" else self._pending_interval
        await self._bus.publish(
            StationBooted(station_id=station_id, registration_status=status, at=now, boot=boot)
        )
        return BootDecision(status=status, interval=interval)

    async def seen(self, station_id: str) -> datetime:
        """A Heartbeat: note that the station is alive; returns the current time for the answer.

        `last_seen_at` is written at most once a minute per station: it says "alive", not "when
        exactly", and a write per heartbeat is the most common write there is. The writes of all
        stations are gathered for a second into one transaction: on SQLite every write transaction
        holds the one write lock that the meter stream needs too.
        """
        now = self._clock.now()
        written = self._seen_written.get(station_id)
        if written is not None and (now - written).total_seconds() < SEEN_RESOLUTION:
            return now
        self._seen_written[station_id] = now
        self._seen_pending[station_id] = now
        if self._seen_flush is None or self._seen_flush.done():
            self._seen_flush = asyncio.create_task(self._flush_seen(delay=SEEN_GATHERING))
        return now

    async def _flush_seen(self, *, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        pending, self._seen_pending = self._seen_pending, {}
        if not pending:
            return
        table = cast(Table, Station.__table__)
        # Never backwards: a boot or status written meanwhile may carry a newer time.
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("station"),
                or_(table.c.last_seen_at.is_(None), table.c.last_seen_at < bindparam("at")),
            )
            .values(last_seen_at=bindparam("at"))
        )
        try:
            async with self._db.transaction() as session:
                conn = await session.connection()
                await conn.execute(statement, [{"station": sid, "at": at} for sid, at in pending.items()])
        except Exception:
            # A background write: say so and let the next heartbeats try again (nothing else waits on it).
            log.exception("writing last_seen_at of %d station(s) failed", len(pending))
            for sid in pending:
                self._seen_written.pop(sid, None)

    async def close(self) -> None:
        """Write what is gathered (on shutdown)."""
        if self._seen_flush is not None and not self._seen_flush.done():
            self._seen_flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._seen_flush
        await self._flush_seen()

    async def status_notification(
        self,
        station_id: str,
        connector_id: int,
        *,
        status: str,
        error_code: str,
        at: datetime,
        info: str | None = None,
        vendor_id: str | None = None,
        vendor_error_code: str | None = None,
    ) -> None:
        """Record a connector's status (keeping the history as station events)."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            connector = await session.get(Connector, (station_id, connector_id))
            if connector is None:
                connector = Connector(station_id=station_id, connector_id=connector_id)
                session.add(connector)
            # An older notification that arrives late must not overwrite a newer status.
            if connector.status_at is None or connector.status_at <= at:
                connector.status = status
                connector.error_code = error_code
                connector.info = info
                connector.vendor_id = vendor_id
                connector.vendor_error_code = vendor_error_code
                connector.status_at = at
            connector.updated_at = now
            session.add(
                StationEvent(
                    station_id=station_id,
                    kind="status",
                    at=at,
                    data={
                        "connector_id": connector_id,
                        "status": status,
                        "error_code": error_code,
                        "info": info,
                        "vendor_id": vendor_id,
                        "vendor_error_code": vendor_error_code,
                    },
                )
            )
            station = await session.get(Station, station_id)
            if station is not None:
                station.last_seen_at = now
        await self._bus.publish(
            StatusChanged(
                station_id=station_id, connector_id=connector_id, status=status, error_code=error_code, at=at
            )
        )

    async def record_event(
        self, station_id: str, kind: str, data: dict[str, Any], *, at: datetime | None = None
    ) -> None:
        """Keep something the station reported (DataTransfer, firmware status, a quirk, …)."""
        async with self._db.transaction() as session:
            session.add(StationEvent(station_id=station_id, kind=kind, at=at or self._clock.now(), data=data))

    async def events(
        self,
        station_id: str,
        *,
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
        principal: Principal | None = None,
    ) -> tuple[Sequence[StationEvent], int]:
        async with self._db.read() as session:
            await self._get(session, station_id, principal)
            query = select(StationEvent).where(StationEvent.station_id == station_id)
            if kind is not None:
                query = query.where(StationEvent.kind == kind)
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(
                query.order_by(StationEvent.at.desc(), StationEvent.id.desc()).limit(limit).offset(offset)
            )
            return rows.all(), total

    @staticmethod
    async def _get(session: AsyncSession, station_id: str, principal: Principal | None = None) -> Station:
        station = await session.get(Station, station_id)
        # Outside the caller's scope reads exactly like "does not exist" (core/operators/scope.py).
        if station is None or not await Scope.of(principal).sees_station(session, station_id):
            raise NotFound(f"station {station_id!r} does not exist")
        return station


def _check_station_id(station_id: str) -> None:
    if not station_id or len(station_id) > 64 or "/" in station_id or not station_id.isprintable():
        raise InvalidInput("station id must be 1 to 64 printable characters without '/'")


def _check_password(password: str) -> None:
    # OCPP security profile 1/2: the AuthorizationKey is 16 to 40 characters (OCPP 1.6 security whitepaper).
    if not 8 <= len(password) <= 64:
        raise InvalidInput("station password must be 8 to 64 characters")

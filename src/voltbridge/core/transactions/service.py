"""Transactions: start (idempotent), meter values, stop (also for transactions we never saw start)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.bus import Bus
from voltbridge.core.clock import Clock
from voltbridge.core.errors import NotFound
from voltbridge.core.events import MeterValuesReceived, TransactionStarted, TransactionStopped
from voltbridge.core.metering import Sample, last_register
from voltbridge.core.operators.scope import Scope
from voltbridge.core.tokens.service import IdTagInfo
from voltbridge.core.transactions.meter_writer import MeterWriter
from voltbridge.store import Database
from voltbridge.store.models import MeterValue, StationEvent, Transaction

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

# A start stamped this long before it reached us was recorded while the charger was offline.
LATE_AFTER = timedelta(minutes=5)

Authorize = Callable[[], Awaitable[IdTagInfo]]


@dataclass(frozen=True, slots=True)
class StartRequest:
    station_id: str
    connector_id: int
    id_tag: str
    meter_start_wh: int
    started_at: datetime
    reservation_id: int | None = None
    flags: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class StartResult:
    transaction: Transaction
    id_tag_info: IdTagInfo
    created: bool  # False: a retry of a start we already recorded


@dataclass(frozen=True, slots=True)
class StopRequest:
    station_id: str
    transaction_id: int
    meter_stop_wh: int
    stopped_at: datetime
    reason: str | None = None
    id_tag: str | None = None
    samples: Sequence[Sample] = ()
    flags: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    station_id: str | None = None
    status: str | None = None
    id_tag: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    station_ids: Sequence[str] | None = field(default=None)


class TransactionService:
    """Every change to a transaction goes through here."""

    def __init__(self, db: Database, bus: Bus, clock: Clock, meter_writer: MeterWriter) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._writer = meter_writer

    async def start(self, request: StartRequest, authorize: Authorize) -> StartResult:
        """Record a StartTransaction. A retry of one already recorded gets the same transaction."""
        known = await self._find_start(request)
        if known is not None:
            return StartResult(known, _stored_info(known), created=False)
        info = await authorize()
        now = self._clock.now()
        flags = list(request.flags)
        if now - request.started_at > LATE_AFTER:
            flags.append("started_offline")
        tx = Transaction(
            station_id=request.station_id,
            connector_id=request.connector_id,
            id_tag=request.id_tag,
            status="active",
            auth_status=info.status,
            started_at=request.started_at,
            meter_start_wh=request.meter_start_wh,
            last_meter_wh=request.meter_start_wh,
            last_meter_at=request.started_at,
            reservation_id=request.reservation_id,
            started_unseen=False,
            flags=flags,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.transaction() as session:
                superseded = await self._supersede_active(session, request, now)
                session.add(tx)
        except IntegrityError:
            # Two copies of the same start raced past the lookup: the other one won.
            known = await self._find_start(request)
            if known is None:
                raise
            return StartResult(known, _stored_info(known), created=False)
        for stale in superseded:
            await self._publish_stopped(stale)
        await self._bus.publish(
            TransactionStarted(
                transaction_id=tx.id,
                station_id=tx.station_id,
                connector_id=tx.connector_id,
                id_tag=tx.id_tag,
                started_at=tx.started_at,
                meter_start_wh=tx.meter_start_wh,
            )
        )
        return StartResult(tx, info, created=True)

    async def stop(self, request: StopRequest) -> Transaction:
        """Record a StopTransaction. A stop we cannot match is accepted and kept as its own record."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            tx = (
                await session.get(Transaction, request.transaction_id) if request.transaction_id > 0 else None
            )
            if tx is not None and tx.station_id != request.station_id:
                tx = None
            if tx is not None and tx.status == "completed" and not tx.started_unseen:
                return tx  # a retried stop
            if tx is None:
                tx = self._unseen(request, now)
                session.add(tx)
                await session.flush()
                session.add(
                    StationEvent(
                        station_id=request.station_id,
                        kind="unknown_stop",
                        at=now,
                        data={"reported_transaction_id": request.transaction_id, "recorded_as": tx.id},
                    )
                )
            self._close(tx, request, now)
        if request.samples:
            await self._writer.write(request.station_id, tx.connector_id, tx.id, request.samples)
        await self._publish_stopped(tx)
        return tx

    async def _publish_stopped(self, tx: Transaction) -> None:
        await self._bus.publish(
            TransactionStopped(
                transaction_id=tx.id,
                station_id=tx.station_id,
                connector_id=tx.connector_id,
                stopped_at=tx.stopped_at,
                meter_stop_wh=tx.meter_stop_wh,
                energy_wh=tx.energy_wh,
                stop_reason=tx.stop_reason,
            )
        )

    async def meter_values(
        self, station_id: str, connector_id: int, transaction_id: int | None, samples: Sequence[Sample]
    ) -> None:
        """Store meter values (returns once committed) and announce the newest register reading."""
        reading = last_register(samples)
        await self._writer.write(station_id, connector_id, transaction_id, samples, reading)
        await self._bus.publish(
            MeterValuesReceived(
                station_id=station_id,
                connector_id=connector_id,
                transaction_id=transaction_id,
                samples=len(samples),
                last_register_wh=reading[0] if reading else None,
                at=reading[1] if reading else None,
            )
        )

    async def get(self, transaction_id: int, *, principal: Principal | None = None) -> Transaction:
        async with self._db.read() as session:
            tx = await session.get(Transaction, transaction_id)
            # A session at a station outside the caller's scope reads as missing (core/operators/scope.py).
            if tx is None or not await Scope.of(principal).sees_station(session, tx.station_id):
                raise NotFound(f"transaction {transaction_id} does not exist")
            return tx

    async def active_on(self, station_id: str, connector_id: int | None = None) -> Sequence[Transaction]:
        query = select(Transaction).where(
            Transaction.station_id == station_id, Transaction.status == "active"
        )
        if connector_id is not None:
            query = query.where(Transaction.connector_id == connector_id)
        async with self._db.read() as session:
            return (await session.scalars(query.order_by(Transaction.id))).all()

    async def get_all(
        self,
        filter: TransactionFilter,
        *,
        limit: int = 100,
        offset: int = 0,
        principal: Principal | None = None,
    ) -> tuple[Sequence[Transaction], int]:
        query = select(Transaction).where(Scope.of(principal).stations(Transaction.station_id))
        if filter.station_id is not None:
            query = query.where(Transaction.station_id == filter.station_id)
        if filter.station_ids is not None:
            query = query.where(Transaction.station_id.in_(filter.station_ids))
        if filter.status is not None:
            query = query.where(Transaction.status == filter.status)
        if filter.id_tag is not None:
            query = query.where(Transaction.id_tag == filter.id_tag)
        if filter.started_from is not None:
            query = query.where(Transaction.started_at >= filter.started_from)
        if filter.started_to is not None:
            query = query.where(Transaction.started_at < filter.started_to)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(Transaction.id.desc()).limit(limit).offset(offset))
            return rows.all(), total

    async def meter_values_of(
        self, transaction_id: int, *, limit: int = 1000, offset: int = 0, principal: Principal | None = None
    ) -> tuple[Sequence[MeterValue], int]:
        await self.get(transaction_id, principal=principal)
        query = select(MeterValue).where(MeterValue.transaction_id == transaction_id)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(
                query.order_by(MeterValue.at, MeterValue.id).limit(limit).offset(offset)
            )
            return rows.all(), total

    async def _find_start(self, request: StartRequest) -> Transaction | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(Transaction).where(
                    Transaction.station_id == request.station_id,
                    Transaction.connector_id == request.connector_id,
                    Transaction.started_at == request.started_at,
                    Transaction.meter_start_wh == request.meter_start_wh,
                )
            )

    @staticmethod
    async def _supersede_active(
        session: AsyncSession, request: StartRequest, now: datetime
    ) -> list[Transaction]:
        # A connector runs one session at a time: one still "active" there lost its StopTransaction
        # (steve #292). Close it so it stops counting against the driver's concurrent-session limit.
        stale = await session.scalars(
            select(Transaction).where(
                Transaction.station_id == request.station_id,
                Transaction.connector_id == request.connector_id,
                Transaction.status == "active",
            )
        )
        closed = list(stale)
        for tx in closed:
            tx.status = "completed"
            tx.stop_reason = tx.stop_reason or "Other"
            tx.meter_stop_wh = tx.last_meter_wh
            tx.stopped_at = tx.last_meter_at
            tx.energy_wh = _energy(tx.meter_start_wh, tx.meter_stop_wh)
            tx.flags = [*tx.flags, "stop_missing"]
            tx.updated_at = now
        return closed

    @staticmethod
    def _unseen(request: StopRequest, now: datetime) -> Transaction:
        return Transaction(
            station_id=request.station_id,
            connector_id=0,  # a 1.6 StopTransaction names no connector
            id_tag=request.id_tag,
            status="active",
            started_unseen=True,
            flags=["start_unseen"],
            created_at=now,
            updated_at=now,
        )

    @staticmethod
    def _close(tx: Transaction, request: StopRequest, now: datetime) -> None:
        tx.status = "completed"
        tx.stopped_at = request.stopped_at
        tx.meter_stop_wh = request.meter_stop_wh
        tx.last_meter_wh = request.meter_stop_wh
        tx.last_meter_at = request.stopped_at
        tx.stop_reason = request.reason or "Local"
        tx.stop_id_tag = request.id_tag
        tx.energy_wh = _energy(tx.meter_start_wh, tx.meter_stop_wh)
        flags = [*tx.flags, *request.flags]
        if tx.energy_wh is not None and tx.energy_wh < 0:
            flags.append("negative_energy")
        tx.flags = flags
        tx.updated_at = now


def _energy(start: int | None, stop: int | None) -> int | None:
    return stop - start if start is not None and stop is not None else None


def _stored_info(tx: Transaction) -> IdTagInfo:
    return IdTagInfo(tx.auth_status or "Accepted")

"""The audit log of OCPI calls in both directions, and the KPIs derived from it and the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from voltbridge.core.clock import Clock
from voltbridge.store import Database
from voltbridge.store.models.ocpi import OcpiAuditEntry, OcpiCdr, OcpiCommand, OcpiOutboxItem


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP exchange to record."""

    partner_id: int | None
    direction: str  # in | out
    module: str | None
    method: str
    url: str
    request_id: str | None
    correlation_id: str | None
    http_status: int | None
    ocpi_status: int | None
    duration_ms: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PartnerKpis:
    """How well roaming with one partner works."""

    partner_id: int
    calls_in: int
    calls_out: int
    sync_success_rate: float | None  # share of pushes delivered among those finished
    pushes_pending: int
    pushes_rejected: int
    command_success_rate: float | None  # share of command results ACCEPTED among finished commands
    cdr_acceptance_rate: float | None
    cdrs_rejected: int
    last_error: str | None
    last_error_at: datetime | None


class AuditLog:
    """Writes and reads the OCPI audit log."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def record(self, exchange: Exchange) -> None:
        """Keep one exchange (its own small unit of work: auditing must never undo the call)."""
        async with self._db.transaction() as session:
            session.add(
                OcpiAuditEntry(
                    partner_id=exchange.partner_id,
                    direction=exchange.direction,
                    module=exchange.module,
                    method=exchange.method,
                    url=exchange.url[:2048],
                    request_id=exchange.request_id,
                    correlation_id=exchange.correlation_id,
                    http_status=exchange.http_status,
                    ocpi_status=exchange.ocpi_status,
                    duration_ms=exchange.duration_ms,
                    error=exchange.error,
                    at=self._clock.now(),
                )
            )

    async def entries(
        self,
        *,
        partner_id: int | None = None,
        direction: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[Sequence[OcpiAuditEntry], int]:
        """Newest first."""
        query = select(OcpiAuditEntry)
        if partner_id is not None:
            query = query.where(OcpiAuditEntry.partner_id == partner_id)
        if direction is not None:
            query = query.where(OcpiAuditEntry.direction == direction)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(OcpiAuditEntry.id.desc()).limit(limit).offset(offset))
            return rows.all(), total

    async def kpis(self, partner_id: int) -> PartnerKpis:
        """The KPIs of one partner, over everything recorded."""
        async with self._db.read() as session:
            calls = dict(
                (
                    await session.execute(
                        select(OcpiAuditEntry.direction, func.count())
                        .where(OcpiAuditEntry.partner_id == partner_id)
                        .group_by(OcpiAuditEntry.direction)
                    )
                ).all()
            )
            pushes = dict(
                (
                    await session.execute(
                        select(OcpiOutboxItem.status, func.count())
                        .where(OcpiOutboxItem.partner_id == partner_id)
                        .group_by(OcpiOutboxItem.status)
                    )
                ).all()
            )
            accepted_cmd = case((OcpiCommand.result == "ACCEPTED", 1), else_=0)
            cmd_row = (
                await session.execute(
                    select(func.count(), func.coalesce(func.sum(accepted_cmd), 0)).where(
                        OcpiCommand.partner_id == partner_id, OcpiCommand.result.is_not(None)
                    )
                )
            ).one()
            cdr_rows = dict(
                (
                    await session.execute(
                        select(OcpiCdr.push_status, func.count())
                        .where(OcpiCdr.partner_id == partner_id)
                        .group_by(OcpiCdr.push_status)
                    )
                ).all()
            )
            last = (
                await session.execute(
                    select(OcpiAuditEntry.error, OcpiAuditEntry.at)
                    .where(OcpiAuditEntry.partner_id == partner_id, OcpiAuditEntry.error.is_not(None))
                    .order_by(OcpiAuditEntry.id.desc())
                    .limit(1)
                )
            ).first()
        done = pushes.get("done", 0)
        finished = done + pushes.get("rejected", 0) + pushes.get("failed", 0)
        cdr_accepted = cdr_rows.get("accepted", 0)
        cdr_finished = cdr_accepted + cdr_rows.get("rejected", 0)
        commands, commands_ok = int(cmd_row[0]), int(cmd_row[1])
        return PartnerKpis(
            partner_id=partner_id,
            calls_in=calls.get("in", 0),
            calls_out=calls.get("out", 0),
            sync_success_rate=done / finished if finished else None,
            pushes_pending=pushes.get("pending", 0),
            pushes_rejected=pushes.get("rejected", 0) + pushes.get("failed", 0),
            command_success_rate=commands_ok / commands if commands else None,
            cdr_acceptance_rate=cdr_accepted / cdr_finished if cdr_finished else None,
            cdrs_rejected=cdr_rows.get("rejected", 0),
            last_error=last[0] if last else None,
            last_error_at=last[1] if last else None,
        )

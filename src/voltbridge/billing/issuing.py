"""CDRs: issued once when a session ends, or held for review; corrections as credit CDR plus new CDR.

On TransactionStopped the session is validated (validation.py) and priced with its snapshot tariff
(pricing.py). If a finding in `BillingOptions.hold` applies, the session is held: a review with the
reasons is stored and SessionHeld published. Otherwise its CDR is written (sequence 1; a second
writer fails on the unique key), the session's cost becomes final and CdrCreated is published.

A reviewer approves a held session (its CDR is issued as recorded, the findings kept as flags) or
corrects it (energy, start, stop, or not billable). An issued CDR is never changed: correcting it
writes a credit CDR (every amount negated, `credit_reference_id` set) and a new CDR that
`supersedes_id` the original. Every decision is written to the audit log with its note.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.billing.cdrs import Draft, credit_of, row_from
from voltbridge.billing.events import CdrCreated, SessionCostUpdated, SessionHeld
from voltbridge.billing.facts import Place, load_meter_input, load_place, overlapping, signed_values
from voltbridge.billing.live import LIMIT_REASON, SessionCosts
from voltbridge.billing.options import BillingOptions
from voltbridge.billing.pricing import free_tariff, price_curve, rated_tariff
from voltbridge.billing.readings import build_curve, rescale
from voltbridge.billing.tariffs import parse_tariff
from voltbridge.billing.validation import Flag, Reason, SessionFacts, held, validate
from voltbridge.bus import Bus
from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.core.events import TransactionStopped
from voltbridge.core.operators import audit
from voltbridge.core.operators.scope import Scope
from voltbridge.core.operators.timezones import local_iso, zone
from voltbridge.core.timeutil import iso_utc
from voltbridge.store import Database
from voltbridge.store.models import Transaction
from voltbridge.store.models.billing import ChargeDetailRecord, SessionCost, SessionReview

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

log = logging.getLogger(__name__)

PENDING = "pending"
APPROVED = "approved"
CORRECTED = "corrected"


@dataclass(frozen=True, slots=True)
class Correction:
    """What a reviewer changes about a session. `note` says why (it goes to the audit log and the CDR).

    `energy_wh` replaces the measured energy (scaled over the same curve); `started_at`/`stopped_at`
    replace the times; `billable` False issues a CDR that costs nothing.
    """

    note: str
    energy_wh: int | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    billable: bool = True

    def __post_init__(self) -> None:
        if not self.note.strip():
            raise InvalidInput("a correction needs a note saying why")
        if self.energy_wh is not None and self.energy_wh < 0:
            raise InvalidInput("energy_wh cannot be negative")
        if self.started_at is not None and self.stopped_at is not None and self.stopped_at < self.started_at:
            raise InvalidInput("stopped_at is before started_at")

    def as_dict(self) -> dict[str, Any]:
        """The correction as kept on the CDR and in the audit log."""
        return {
            "note": self.note,
            "energy_wh": self.energy_wh,
            "started_at": None if self.started_at is None else iso_utc(self.started_at),
            "stopped_at": None if self.stopped_at is None else iso_utc(self.stopped_at),
            "billable": self.billable,
        }


@dataclass(frozen=True, slots=True)
class CdrFilter:
    """Which CDRs to list; None means any. Times bound the session start (from inclusive, to exclusive)."""

    transaction_id: int | None = None
    station_id: str | None = None
    operator_id: int | None = None
    start_from: datetime | None = None
    start_to: datetime | None = None
    credit: bool | None = None


@dataclass(frozen=True, slots=True)
class _Assessment:
    draft: Draft | None
    reasons: list[Reason]
    error: str | None
    place: Place


class CdrService:
    """Issues CDRs, holds flagged sessions for review, and records reviewers' decisions."""

    def __init__(
        self, db: Database, bus: Bus, clock: Clock, costs: SessionCosts, options: BillingOptions
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._costs = costs
        self._options = options

    async def on_stopped(self, event: TransactionStopped) -> None:
        """Settle a session that just ended."""
        await self.settle(event.transaction_id)

    async def settle(self, transaction_id: int) -> ChargeDetailRecord | SessionReview | None:
        """Issue the session's CDR, or hold it for review; a session already settled is left alone."""
        async with self._db.read() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None or tx.status != "completed":
                return None
            known = await _first_cdr(session, transaction_id)
            if known is not None:
                return known
            review = await session.get(SessionReview, transaction_id)
            if review is not None:
                return review
        assessment = await self._assess(transaction_id)
        holding = held(assessment.reasons, self._options.hold)
        if holding or assessment.draft is None:
            return await self._hold(tx, assessment)
        try:
            return await self._issue(assessment.draft, sequence=1, actor=None)
        except IntegrityError:
            async with self._db.read() as session:
                return await _first_cdr(session, transaction_id)

    async def settle_missing(self, *, since: datetime, limit: int = 500) -> int:
        """Settle sessions stopped since `since` that have neither a CDR nor a review; answers how many.

        Events live in memory: a process that stopped between a session's stop and its CDR lost the
        event. Run this at start (and now and then); `since` keeps sessions from before billing was
        set up from being billed after the fact.
        """
        query = (
            select(Transaction.id)
            .where(
                Transaction.status == "completed",
                Transaction.stopped_at >= since,
                ~select(ChargeDetailRecord.id)
                .where(ChargeDetailRecord.transaction_id == Transaction.id)
                .exists(),
                ~select(SessionReview.transaction_id)
                .where(SessionReview.transaction_id == Transaction.id)
                .exists(),
            )
            .order_by(Transaction.id)
            .limit(limit)
        )
        async with self._db.read() as session:
            missing = list(await session.scalars(query))
        for transaction_id in missing:
            await self.settle(transaction_id)
        return len(missing)

    async def approve(
        self, transaction_id: int, *, note: str, actor: Principal | None = None
    ) -> ChargeDetailRecord:
        """Bill a held session as recorded; its findings stay on the CDR as flags."""
        if not note.strip():
            raise InvalidInput("an approval needs a note saying why the session is fine")
        await self._pending(transaction_id, actor)
        assessment = await self._assess(transaction_id)
        if assessment.draft is None:
            raise InvalidInput(
                f"session {transaction_id} cannot be billed as recorded ({assessment.error}); correct it instead"
            )
        draft = replace(
            assessment.draft, remark=_remark(assessment.draft.remark, f"approved after review: {note}")
        )
        return await self._decide(transaction_id, draft, APPROVED, note=note, correction=None, actor=actor)

    async def correct(
        self, transaction_id: int, correction: Correction, *, actor: Principal | None = None
    ) -> ChargeDetailRecord:
        """Bill a held session with the reviewer's correction."""
        await self._pending(transaction_id, actor)
        draft = await self._corrected_draft(transaction_id, correction)
        return await self._decide(
            transaction_id, draft, CORRECTED, note=correction.note, correction=correction, actor=actor
        )

    async def correct_cdr(
        self, cdr_id: int, correction: Correction, *, actor: Principal | None = None
    ) -> tuple[ChargeDetailRecord, ChargeDetailRecord]:
        """Correct an issued CDR: a credit CDR for it and a new CDR that supersedes it."""
        original = await self.get(cdr_id, principal=actor)
        if original.credit:
            raise InvalidInput(f"CDR {cdr_id} is a credit CDR; correct the CDR that replaced its original")
        draft = await self._corrected_draft(original.transaction_id, correction)
        now = self._clock.now()
        who = _who(actor)
        try:
            async with self._db.transaction() as session:
                credited = await session.scalar(
                    select(ChargeDetailRecord.id).where(ChargeDetailRecord.credit_reference_id == cdr_id)
                )
                if credited is not None:
                    raise Conflict(
                        f"CDR {cdr_id} was already credited by CDR {credited}; correct its successor"
                    )
                last = await session.scalar(
                    select(func.max(ChargeDetailRecord.sequence)).where(
                        ChargeDetailRecord.transaction_id == original.transaction_id
                    )
                )
                sequence = (last or 0) + 1
                credit = credit_of(
                    original,
                    sequence=sequence,
                    created_at=now,
                    created_by=who,
                    remark=f"credit of CDR {cdr_id}: {correction.note}",
                )
                session.add(credit)
                await session.flush()
                new = self._row(draft, sequence=sequence + 1, created_at=now, created_by=who)
                new.supersedes_id = cdr_id
                session.add(new)
                await session.flush()
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="cdr",
                    entity_id=cdr_id,
                    action="correct",
                    operator_id=original.operator_id,
                    before={"total_incl_vat": str(original.total_incl_vat), "energy_wh": original.energy_wh},
                    after={
                        "credit_cdr_id": credit.id,
                        "new_cdr_id": new.id,
                        "correction": correction.as_dict(),
                        "total_incl_vat": str(new.total_incl_vat),
                        "energy_wh": new.energy_wh,
                    },
                    note=correction.note,
                )
                await self._finalise(session, new)
        except IntegrityError as exc:
            raise Conflict(f"CDR {cdr_id} is being corrected by someone else; reload and retry") from exc
        await self._announce(credit)
        await self._announce(new)
        return credit, new

    async def get(self, cdr_id: int, *, principal: Principal | None = None) -> ChargeDetailRecord:
        """One CDR (404 when unknown or outside the caller's scope)."""
        async with self._db.read() as session:
            row = await session.get(ChargeDetailRecord, cdr_id)
        if row is None or not Scope.of(principal).sees_operator(row.operator_id):
            raise NotFound(f"CDR {cdr_id} does not exist")
        return row

    async def get_all(
        self, filter: CdrFilter, *, principal: Principal | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[ChargeDetailRecord], int]:
        """CDRs in the caller's scope, newest first."""
        query = select(ChargeDetailRecord).where(
            Scope.of(principal).operators(ChargeDetailRecord.operator_id)
        )
        if filter.transaction_id is not None:
            query = query.where(ChargeDetailRecord.transaction_id == filter.transaction_id)
        if filter.station_id is not None:
            query = query.where(ChargeDetailRecord.station_id == filter.station_id)
        if filter.operator_id is not None:
            query = query.where(ChargeDetailRecord.operator_id == filter.operator_id)
        if filter.start_from is not None:
            query = query.where(ChargeDetailRecord.start_at >= filter.start_from)
        if filter.start_to is not None:
            query = query.where(ChargeDetailRecord.start_at < filter.start_to)
        if filter.credit is not None:
            query = query.where(ChargeDetailRecord.credit.is_(filter.credit))
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(
                query.order_by(ChargeDetailRecord.id.desc()).limit(limit).offset(offset)
            )
            return list(rows), total

    async def review(self, transaction_id: int, *, principal: Principal | None = None) -> SessionReview:
        """A session's review (404 when it was never held or is outside the caller's scope)."""
        async with self._db.read() as session:
            row = await session.get(SessionReview, transaction_id)
        if row is None or not Scope.of(principal).sees_operator(row.operator_id):
            raise NotFound(f"session {transaction_id} was not held for review")
        return row

    async def reviews(
        self,
        *,
        status: str | None = None,
        principal: Principal | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[SessionReview], int]:
        """Reviews in the caller's scope (pending first, then newest)."""
        query = select(SessionReview).where(Scope.of(principal).operators(SessionReview.operator_id))
        if status is not None:
            query = query.where(SessionReview.status == status)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(
                query.order_by(SessionReview.flagged_at.desc(), SessionReview.transaction_id.desc())
                .limit(limit)
                .offset(offset)
            )
            return list(rows), total

    async def _assess(self, transaction_id: int, correction: Correction | None = None) -> _Assessment:
        """Validate and price the session (with a correction applied, when given)."""
        cost = await self._costs.snapshot(transaction_id)
        async with self._db.read() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None or cost is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            place = await load_place(session, tx.station_id)
            start = correction.started_at if correction and correction.started_at else tx.started_at
            stop = correction.stopped_at if correction and correction.stopped_at else tx.stopped_at
            if start is not None and stop is not None and stop < start:
                stop = None
            data = None
            signed: list[dict[str, Any]] = []
            overlaps: Sequence[int] = ()
            if start is not None and stop is not None:
                data = await load_meter_input(
                    session, tx, start=start, end=stop, final=True, idle_after_s=cost.idle_after_s
                )
                signed = await signed_values(session, transaction_id)
                overlaps = await overlapping(session, tx, start, stop)
        curve = None if data is None else build_curve(data)
        if curve is not None and correction is not None and correction.energy_wh is not None:
            assert start is not None and stop is not None
            curve = rescale(curve, correction.energy_wh, start=start, end=stop)
        facts = SessionFacts(
            started_at=start,
            stopped_at=stop,
            meter_start_wh=tx.meter_start_wh,
            meter_stop_wh=tx.meter_stop_wh,
            transaction_flags=tx.flags,
            curve=curve,
            overlapping=overlaps,
        )
        reasons = validate(facts, place.rating)
        if curve is None or start is None or stop is None:
            return _Assessment(None, reasons, "its start or stop is unknown", place)
        if cost.tariff is None:
            reasons.append(
                Reason(Flag.NO_TARIFF, "no tariff applied when the session started; it costs nothing")
            )
            tariff = free_tariff(self._options.default_currency)
        else:
            tariff = rated_tariff(parse_tariff(cost.tariff), rate_idle=cost.rate_idle)
        if correction is not None and not correction.billable:
            tariff = free_tariff(tariff.currency, tariff_id=tariff.id)
        try:
            result = price_curve(
                tariff, curve, start=start, end=stop, tz=zone(cost.timezone), options=self._options.pricing
            )
        except InvalidInput as exc:
            reasons.append(Reason(Flag.UNPRICEABLE, str(exc)))
            return _Assessment(None, reasons, str(exc), place)
        limited = cost.stop_reason == LIMIT_REASON
        draft = Draft(
            transaction_id=transaction_id,
            station_id=tx.station_id,
            connector_id=tx.connector_id,
            area_id=place.area_id,
            operator_id=place.operator_id,
            id_tag=tx.id_tag,
            timezone=place.local_timezone,
            start_at=start,
            stop_at=stop,
            meter_start_wh=tx.meter_start_wh,
            meter_stop_wh=tx.meter_stop_wh,
            energy_wh=curve.energy_wh,
            result=result,
            tariff_pk=cost.tariff_pk,
            tariff=cost.tariff,
            signed_data=signed,
            flags=[r.flag.value for r in reasons],
            stop_reason=LIMIT_REASON if limited else tx.stop_reason,
            remark=LIMIT_REASON if limited else None,
            metering=place.metering,
        )
        return _Assessment(draft, reasons, None, place)

    async def _corrected_draft(self, transaction_id: int, correction: Correction) -> Draft:
        assessment = await self._assess(transaction_id, correction)
        if assessment.draft is None:
            raise InvalidInput(
                f"session {transaction_id} cannot be billed with this correction ({assessment.error}); "
                "give started_at, stopped_at and energy_wh"
            )
        remark = (
            f"corrected: {correction.note}" if correction.billable else f"not billable: {correction.note}"
        )
        return replace(
            assessment.draft, remark=_remark(assessment.draft.remark, remark), correction=correction.as_dict()
        )

    async def _pending(self, transaction_id: int, actor: Principal | None) -> SessionReview:
        review = await self.review(transaction_id, principal=actor)
        if review.status != PENDING:
            raise Conflict(
                f"session {transaction_id} was already {review.status} by {review.decided_by}; "
                "correct its CDR instead"
            )
        return review

    async def _hold(self, tx: Transaction, assessment: _Assessment) -> SessionReview | None:
        now = self._clock.now()
        review = SessionReview(
            transaction_id=tx.id,
            station_id=tx.station_id,
            operator_id=assessment.place.operator_id,
            status=PENDING,
            reasons=[r.as_dict() for r in assessment.reasons],
            flagged_at=now,
        )
        try:
            async with self._db.transaction() as session:
                session.add(review)
        except IntegrityError:
            async with self._db.read() as session:
                return await session.get(SessionReview, tx.id)
        log.info("session %s held for review: %s", tx.id, ", ".join(r.flag.value for r in assessment.reasons))
        await self._bus.publish(
            SessionHeld(
                transaction_id=tx.id,
                station_id=tx.station_id,
                operator_id=assessment.place.operator_id,
                reasons=[r.flag.value for r in assessment.reasons],
            )
        )
        return review

    async def _decide(
        self,
        transaction_id: int,
        draft: Draft,
        status: str,
        *,
        note: str,
        correction: Correction | None,
        actor: Principal | None,
    ) -> ChargeDetailRecord:
        now = self._clock.now()
        try:
            async with self._db.transaction() as session:
                decided = await session.execute(
                    update(SessionReview)
                    .where(SessionReview.transaction_id == transaction_id, SessionReview.status == PENDING)
                    .values(
                        status=status,
                        decided_at=now,
                        decided_by=_who(actor),
                        note=note,
                        correction=None if correction is None else correction.as_dict(),
                    )
                )
                if decided.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict(f"session {transaction_id} was decided by someone else meanwhile")
                row = self._row(draft, sequence=1, created_at=now, created_by=_who(actor))
                session.add(row)
                await session.flush()
                await session.execute(
                    update(SessionReview)
                    .where(SessionReview.transaction_id == transaction_id)
                    .values(cdr_id=row.id)
                )
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="session_review",
                    entity_id=transaction_id,
                    action="approve" if status == APPROVED else "correct",
                    operator_id=draft.operator_id,
                    before={"status": PENDING},
                    after={
                        "status": status,
                        "cdr_id": row.id,
                        "correction": None if correction is None else correction.as_dict(),
                    },
                    note=note,
                )
                await self._finalise(session, row)
        except IntegrityError as exc:
            raise Conflict(f"session {transaction_id} already has a CDR") from exc
        await self._announce(row)
        return row

    async def _issue(self, draft: Draft, *, sequence: int, actor: Principal | None) -> ChargeDetailRecord:
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = self._row(draft, sequence=sequence, created_at=now, created_by=_who(actor))
            session.add(row)
            await session.flush()
            await self._finalise(session, row)
        await self._announce(row)
        return row

    def _row(
        self, draft: Draft, *, sequence: int, created_at: datetime, created_by: str
    ) -> ChargeDetailRecord:
        tz = zone(draft.timezone)
        local = (local_iso(draft.start_at, tz), local_iso(draft.stop_at, tz))
        return row_from(draft, sequence=sequence, created_at=created_at, created_by=created_by, local=local)

    @staticmethod
    async def _finalise(session: AsyncSession, row: ChargeDetailRecord) -> None:
        """The session's cost becomes its CDR's total (the running cost at the end equals it)."""
        await session.execute(
            update(SessionCost)
            .where(SessionCost.transaction_id == row.transaction_id)
            .values(
                cost_excl_vat=row.total_excl_vat,
                cost_incl_vat=row.total_incl_vat,
                currency=row.currency,
                energy_wh=row.energy_wh,
                as_of=row.stop_at,
                final=True,
                updated_at=row.created_at,
            )
        )

    async def _announce(self, row: ChargeDetailRecord) -> None:
        await self._bus.publish(
            CdrCreated(
                cdr_id=row.id,
                transaction_id=row.transaction_id,
                station_id=row.station_id,
                operator_id=row.operator_id,
                credit=row.credit,
                currency=row.currency,
                total_excl_vat=row.total_excl_vat,
                total_incl_vat=row.total_incl_vat,
            )
        )
        if not row.credit:
            await self._bus.publish(
                SessionCostUpdated(
                    transaction_id=row.transaction_id,
                    station_id=row.station_id,
                    connector_id=row.connector_id,
                    currency=row.currency,
                    excl_vat=row.total_excl_vat,
                    incl_vat=row.total_incl_vat,
                    energy_wh=row.energy_wh,
                    as_of=row.stop_at,
                    final=True,
                )
            )


async def _first_cdr(session: AsyncSession, transaction_id: int) -> ChargeDetailRecord | None:
    return await session.scalar(
        select(ChargeDetailRecord).where(
            ChargeDetailRecord.transaction_id == transaction_id, ChargeDetailRecord.sequence == 1
        )
    )


def _who(actor: Principal | None) -> str:
    return actor.email if actor is not None else audit.SYSTEM


def _remark(first: str | None, second: str) -> str:
    return second if not first else f"{first}; {second}"

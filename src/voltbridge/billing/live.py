"""Running sessions: the tariff snapshot at the start, the running cost, and the monetary session limit.

- On TransactionStarted the tariff in force at the session's start (see catalog.resolve) is copied
  onto the session with the operator's idle rating rules and monetary limit (`session_costs`).
  Snapshots are idempotent and are also taken late, by whichever event needs one first.
- On MeterValuesReceived the session is priced up to its newest reading with the same function that
  prices its CDR, stored, and announced as SessionCostUpdated. What pricing needs from the snapshot
  never changes once taken, so it is kept in memory while the session runs: a session no tariff
  prices costs no query per MeterValues at all, and a priced one no snapshot read per re-pricing.
- On SessionCostUpdated a session whose cost incl. VAT reached its limit (same currency) is stopped
  with RemoteStopTransaction through CommandService; the stop reason "monetary limit reached" is
  kept with the session's cost and carried onto its CDR. In a cluster every node sees the event; one
  conditional UPDATE decides which node sends the stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from voltbridge.billing.catalog import resolve
from voltbridge.billing.events import SessionCostUpdated, SessionLimitReached
from voltbridge.billing.facts import load_meter_input, load_place, newest_reading_at
from voltbridge.billing.options import BillingOptions
from voltbridge.billing.pricing import price_curve, rated_tariff
from voltbridge.billing.readings import build_curve
from voltbridge.billing.tariffs import parse_tariff
from voltbridge.bus import Bus
from voltbridge.core.clock import Clock
from voltbridge.core.commands.service import CommandService
from voltbridge.core.errors import InvalidInput, NotFound, StationError, StationRejected
from voltbridge.core.events import MeterValuesReceived, TransactionStarted
from voltbridge.core.operators.scope import Scope
from voltbridge.core.operators.timezones import zone
from voltbridge.store import Database
from voltbridge.store.models import Transaction
from voltbridge.store.models.billing import SessionCost

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

log = logging.getLogger(__name__)

LIMIT_REASON = "monetary limit reached"


@dataclass(frozen=True, slots=True)
class _Terms:
    """What re-pricing a running session takes from its snapshot (fixed once the snapshot is taken)."""

    tariff: dict[str, Any]
    currency: str | None
    timezone: str
    rate_idle: bool
    idle_after_s: int


@dataclass(frozen=True, slots=True)
class CostView:
    """A session's tariff snapshot and cost so far (final once its CDR is issued)."""

    transaction_id: int
    station_id: str
    tariff_id: int | None
    tariff_ocpi_id: str | None
    tariff_version: int | None
    tariff_level: str | None
    currency: str | None
    excl_vat: Decimal | None
    incl_vat: Decimal | None
    energy_wh: int | None
    as_of: datetime | None
    final: bool
    limit_amount: Decimal | None
    limit_currency: str | None
    limit_reached_at: datetime | None
    limit_command_status: str | None
    stop_reason: str | None


class SessionCosts:
    """Snapshots, running costs and the monetary limit of running sessions."""

    def __init__(
        self, db: Database, bus: Bus, clock: Clock, commands: CommandService, options: BillingOptions
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._commands = commands
        self._options = options
        # Meter values are the busiest event; re-pricing reads the session's curve from the database.
        # So a session is re-priced at most every `running_cost_interval` seconds, and a session no
        # tariff prices is not re-priced at all (its energy is on the transaction already).
        self._priced_at: dict[int, datetime] = {}
        self._unpriced: set[int] = set()
        self._terms: dict[int, _Terms] = {}

    def forget(self, transaction_id: int) -> None:
        """Drop what is kept in memory about a session that ended."""
        self._priced_at.pop(transaction_id, None)
        self._unpriced.discard(transaction_id)
        self._terms.pop(transaction_id, None)

    async def on_started(self, event: TransactionStarted) -> None:
        """Snapshot the tariff of a session that just started."""
        # No look for an earlier snapshot first: at the start there rarely is one, and under load
        # every query costs a thread hop (see docs/billing.md); a duplicate fails on the key instead.
        self._remember(event.transaction_id, await self._take_snapshot(event.transaction_id))

    async def on_meter_values(self, event: MeterValuesReceived) -> None:
        """Re-price a running session whose meter values arrived (at most once per interval)."""
        tx_id = event.transaction_id
        if tx_id is None or tx_id in self._unpriced:
            return
        now = self._clock.now()
        last = self._priced_at.get(tx_id)
        if last is not None and (now - last).total_seconds() < self._options.running_cost_interval:
            return
        self._priced_at[tx_id] = now
        row = await self.update(tx_id)
        if row is None or row.tariff is None or row.final:
            self._unpriced.add(tx_id)
            self._terms.pop(tx_id, None)

    def _remember(self, transaction_id: int, row: SessionCost | None) -> _Terms | None:
        """Keep what re-pricing the running session needs (None: nothing prices it)."""
        if row is None or row.final or row.tariff is None:
            self._unpriced.add(transaction_id)
            return None
        terms = _Terms(
            tariff=row.tariff,
            currency=row.currency,
            timezone=row.timezone,
            rate_idle=row.rate_idle,
            idle_after_s=row.idle_after_s,
        )
        self._terms[transaction_id] = terms
        return terms

    async def snapshot(self, transaction_id: int) -> SessionCost | None:
        """The session's snapshot, taken now if it has none yet (None: no such transaction)."""
        async with self._db.read() as session:
            known = await session.get(SessionCost, transaction_id)
            if known is not None:
                return known
        return await self._take_snapshot(transaction_id)

    async def _take_snapshot(self, transaction_id: int) -> SessionCost | None:
        """Take the session's snapshot, or answer the one taken first (None: no such transaction)."""
        now = self._clock.now()
        try:
            async with self._db.transaction() as session:
                tx = await session.get(Transaction, transaction_id)
                if tx is None:
                    return None
                place = await load_place(session, tx.station_id)
                found = None
                if tx.started_at is not None:
                    found = await resolve(
                        session,
                        tx.station_id,
                        tx.connector_id,
                        tx.id_tag,
                        tx.started_at,
                        recorded_at=tx.created_at,
                    )
                row = SessionCost(
                    transaction_id=transaction_id,
                    tariff_pk=found.tariff.id if found else None,
                    tariff_version=found.tariff.version if found else None,
                    tariff_level=found.level if found else None,
                    tariff=found.tariff.data if found else None,
                    currency=found.tariff.currency if found else None,
                    timezone=place.pricing_timezone,
                    operator_id=place.operator_id,
                    rate_idle=place.rate_idle,
                    idle_after_s=place.idle_after_s,
                    limit_amount=place.limit_amount,
                    limit_currency=place.limit_currency,
                    final=False,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
        except IntegrityError:
            # Another event (or node) took the snapshot first; it is the one that counts.
            async with self._db.read() as session:
                return await session.get(SessionCost, transaction_id)
        return row

    async def update(self, transaction_id: int) -> SessionCost | None:
        """Price the running session up to its newest reading, store it and announce it."""
        terms = self._terms.get(transaction_id)
        if terms is None:
            snapshot = await self.snapshot(transaction_id)
            terms = self._remember(transaction_id, snapshot)
            if terms is None:
                return snapshot  # nothing prices it: its energy is the transaction's own figure
        async with self._db.read() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None or tx.status != "active" or tx.started_at is None:
                return await session.get(SessionCost, transaction_id)
            newest = await newest_reading_at(session, transaction_id)
            as_of = max(newest or tx.started_at, tx.started_at)
            data = await load_meter_input(
                session, tx, start=tx.started_at, end=as_of, final=False, idle_after_s=terms.idle_after_s
            )
        curve = build_curve(data)
        values: dict[str, Any] = {
            "energy_wh": curve.energy_wh,
            "as_of": as_of,
            "updated_at": self._clock.now(),
        }
        cost = None
        try:
            tariff = rated_tariff(parse_tariff(terms.tariff), rate_idle=terms.rate_idle)
            cost = price_curve(
                tariff,
                curve,
                start=tx.started_at,
                end=as_of,
                tz=zone(terms.timezone),
                options=self._options.pricing,
            ).total_cost
        except InvalidInput as exc:
            log.warning("running cost of transaction %s not computed: %s", transaction_id, exc)
        if cost is not None:
            values.update(cost_excl_vat=cost.excl_vat, cost_incl_vat=cost.incl_vat)
        async with self._db.transaction() as session:
            result = await session.execute(
                update(SessionCost)
                .where(SessionCost.transaction_id == transaction_id, SessionCost.final.is_(False))
                .values(**values)
            )
            row = await session.get(SessionCost, transaction_id, populate_existing=True)
            if cast(CursorResult[Any], result).rowcount != 1:
                return row  # the CDR was issued meanwhile; its total is the final cost
        if cost is not None and terms.currency is not None:
            await self._bus.publish(
                SessionCostUpdated(
                    transaction_id=transaction_id,
                    station_id=tx.station_id,
                    connector_id=tx.connector_id,
                    currency=terms.currency,
                    excl_vat=cost.excl_vat,
                    incl_vat=cost.incl_vat,
                    energy_wh=curve.energy_wh,
                    as_of=as_of,
                )
            )
        return row

    async def on_cost_updated(self, event: SessionCostUpdated) -> None:
        """Stop a session remotely when its running cost reaches the operator's monetary limit."""
        if event.final:
            return
        now = self._clock.now()
        async with self._db.transaction() as session:
            claimed = await session.execute(
                update(SessionCost)
                .where(
                    SessionCost.transaction_id == event.transaction_id,
                    SessionCost.final.is_(False),
                    SessionCost.limit_reached_at.is_(None),
                    SessionCost.limit_amount.is_not(None),
                    SessionCost.limit_currency == event.currency,
                    SessionCost.limit_amount <= event.incl_vat,
                )
                .values(limit_reached_at=now, stop_reason=LIMIT_REASON, updated_at=now)
            )
            if cast(CursorResult[Any], claimed).rowcount != 1:
                return
            row = await session.get(SessionCost, event.transaction_id)
            limit = row.limit_amount if row is not None and row.limit_amount is not None else Decimal(0)
        log.info(
            "transaction %s reached its monetary limit (%s %s incl. VAT); stopping it",
            event.transaction_id,
            event.incl_vat,
            event.currency,
        )
        status = await self._remote_stop(event.station_id, event.transaction_id)
        async with self._db.transaction() as session:
            values: dict[str, Any] = {"limit_command_status": status, "updated_at": self._clock.now()}
            if status in ("offline", "timeout", "busy"):
                # Not delivered: release the claim so the next meter values try again.
                values.update(limit_reached_at=None, stop_reason=None)
            await session.execute(
                update(SessionCost).where(SessionCost.transaction_id == event.transaction_id).values(**values)
            )
        await self._bus.publish(
            SessionLimitReached(
                transaction_id=event.transaction_id,
                station_id=event.station_id,
                currency=event.currency,
                limit=limit,
                incl_vat=event.incl_vat,
                command_status=status,
            )
        )

    async def _remote_stop(self, station_id: str, transaction_id: int) -> str:
        try:
            answer = await self._commands.send(
                station_id,
                "RemoteStopTransaction",
                {"transactionId": transaction_id},
                source="billing",
                requested_by=LIMIT_REASON,
            )
        except StationRejected:
            return "callerror"
        except StationError as exc:
            log.warning("remote stop of transaction %s at %s failed: %s", transaction_id, station_id, exc)
            return type(exc).__name__.removeprefix("Station").lower()
        return str(answer.get("status", "unknown"))

    async def get(self, transaction_id: int, *, principal: Principal | None = None) -> CostView:
        """The session's tariff snapshot and cost so far (404 outside the caller's scope)."""
        async with self._db.read() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None or not await Scope.of(principal).sees_station(session, tx.station_id):
                raise NotFound(f"transaction {transaction_id} does not exist")
        row = await self.snapshot(transaction_id)
        if row is None:
            raise NotFound(f"transaction {transaction_id} does not exist")
        return CostView(
            transaction_id=transaction_id,
            station_id=tx.station_id,
            tariff_id=row.tariff_pk,
            tariff_ocpi_id=None if row.tariff is None else str(row.tariff.get("id")),
            tariff_version=row.tariff_version,
            tariff_level=row.tariff_level,
            currency=row.currency,
            excl_vat=row.cost_excl_vat,
            incl_vat=row.cost_incl_vat,
            energy_wh=row.energy_wh,
            as_of=row.as_of,
            final=row.final,
            limit_amount=row.limit_amount,
            limit_currency=row.limit_currency,
            limit_reached_at=row.limit_reached_at,
            limit_command_status=row.limit_command_status,
            stop_reason=row.stop_reason,
        )

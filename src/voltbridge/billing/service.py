"""Billing as one object the composition root builds: its services and its bus subscriptions."""

from __future__ import annotations

from dataclasses import dataclass

from voltbridge.billing.catalog import TariffService
from voltbridge.billing.events import SessionCostUpdated
from voltbridge.billing.issuing import CdrService
from voltbridge.billing.live import SessionCosts
from voltbridge.billing.metering import MeteringService
from voltbridge.billing.options import BillingOptions
from voltbridge.billing.reports import BillingReports
from voltbridge.bus import Bus, Event
from voltbridge.core.clock import Clock
from voltbridge.core.commands.service import CommandService
from voltbridge.core.events import MeterValuesReceived, TransactionStarted, TransactionStopped
from voltbridge.store import Database

# Stations whose session events are handled at once. Each holds a database connection while it
# waits; SQLAlchemy's default pool keeps five, and the gateway and the API need theirs.
SESSIONS_AT_ONCE = 4


@dataclass(frozen=True, slots=True)
class Billing:
    """Tariffs, running costs, CDRs and reviews, station metering facts, and billing reports."""

    tariffs: TariffService
    costs: SessionCosts
    cdrs: CdrService
    metering: MeteringService
    reports: BillingReports
    options: BillingOptions

    @classmethod
    def build(
        cls, *, db: Database, bus: Bus, clock: Clock, commands: CommandService, options: BillingOptions
    ) -> Billing:
        """Every billing service over one database, bus and clock."""
        costs = SessionCosts(db, bus, clock, commands, options)
        return cls(
            tariffs=TariffService(db, clock),
            costs=costs,
            cdrs=CdrService(db, bus, clock, costs, options),
            metering=MeteringService(db, clock),
            reports=BillingReports(db, options.ere),
            options=options,
        )

    def subscribe(self, bus: Bus) -> None:
        """Follow sessions on the bus.

        Starts, meter values and stops share one subscription, so a station's events are handled in
        the order they were published (the snapshot before the running cost before the CDR). Up to
        SESSIONS_AT_ONCE stations are handled side by side: a snapshot waits on the database (a
        thread hop per query, the write lock), and meanwhile other stations' sessions go on. The
        monetary limit has its own subscription, so a slow remote stop delays no other session's cost.
        """
        bus.subscribe(Event, self._on_session_event, name="billing-sessions", concurrency=SESSIONS_AT_ONCE)
        bus.subscribe(SessionCostUpdated, self.costs.on_cost_updated, name="billing-limits")

    async def _on_session_event(self, event: Event) -> None:
        if isinstance(event, MeterValuesReceived):
            await self.costs.on_meter_values(event)
        elif isinstance(event, TransactionStarted):
            await self.costs.on_started(event)
        elif isinstance(event, TransactionStopped):
            self.costs.forget(event.transaction_id)
            await self.cdrs.on_stopped(event)

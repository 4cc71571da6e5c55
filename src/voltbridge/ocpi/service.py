"""OcpiService: every OCPI part of one voltbridge process, built once by the composition root."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import Request
from starlette.types import ASGIApp

from voltbridge.billing.events import CdrCreated
from voltbridge.billing.tariffs import Tariff
from voltbridge.bus import Bus, Event
from voltbridge.core.authorization import AuthorizationService
from voltbridge.core.clock import Clock
from voltbridge.core.commands.service import CommandService
from voltbridge.core.events import MeterValuesReceived, StatusChanged, TransactionStarted, TransactionStopped
from voltbridge.core.transactions.service import TransactionService
from voltbridge.ocpi.audit import AuditLog
from voltbridge.ocpi.client import OcpiClient
from voltbridge.ocpi.commands import CommandBridge
from voltbridge.ocpi.hub import ClientInfoStore
from voltbridge.ocpi.options import OcpiOptions
from voltbridge.ocpi.outbox import PushOutbox
from voltbridge.ocpi.partners import PartnerRegistry
from voltbridge.ocpi.publish import Publisher
from voltbridge.ocpi.registration import Registration
from voltbridge.ocpi.sessions import BillingCdrs, CdrSource, Pricer, PricingCdrSource, SessionPublisher
from voltbridge.ocpi.sources import (
    LocationSource,
    MemoryTariffSource,
    StoreLocationSource,
    TariffSource,
    tariff_wire,
)
from voltbridge.ocpi.tokens import OcpiAuthority, TokenStore
from voltbridge.store import Database
from voltbridge.store.models.ocpi import OcpiPartner

log = logging.getLogger(__name__)


class OcpiService:
    """The OCPI side: partner registry, registration, server parts, pushes, authorization of tokens."""

    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        clock: Clock,
        options: OcpiOptions,
        transactions: TransactionService,
        commands: CommandService,
        authorization: AuthorizationService | None = None,
        locations: LocationSource | None = None,
        tariffs: TariffSource | None = None,
        cdrs: CdrSource | None = None,
        billing_cdrs: BillingCdrs | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.options = options
        self._base_url = options.base_url.rstrip("/") if options.base_url else None
        self.audit = AuditLog(db, clock)
        self.registry = PartnerRegistry(db, clock)
        self.client = OcpiClient(self.audit, options, transport=http_transport)
        self.registration = Registration(self.registry, self.client, options, clock, self.versions_url)
        self.tariffs: TariffSource = tariffs or MemoryTariffSource()
        self.locations: LocationSource = locations or StoreLocationSource(db, options, self.tariffs)
        self.tokens = TokenStore(db, clock)
        self.hub = ClientInfoStore(db)
        self.outbox = PushOutbox(db, clock, self.client, options)
        self.publisher = Publisher(
            db, clock, options, self.registry, self.locations, self.tariffs, self.outbox.wake
        )
        pricer = Pricer(transactions, self.tariffs)
        self.sessions = SessionPublisher(
            db,
            clock,
            options,
            transactions,
            self.locations,
            self.tokens,
            pricer,
            cdrs or PricingCdrSource(pricer, options, clock),
            self.outbox.wake,
            billing_cdrs,
        )
        self.cdrs = _CdrView(self.sessions)
        self.commands = CommandBridge(db, clock, options, commands, self.locations, self.client)
        self.authority: OcpiAuthority | None = None
        if authorization is not None:
            self.authority = OcpiAuthority(
                db,
                clock,
                options,
                self.tokens,
                self.registry,
                self.client,
                self.locations,
                authorization.platform_decision,
            )
            authorization.add_authority(self.authority)
        # One subscription for every event we react to: the bus keeps order within a subscription
        # only, and a session's stop must never be handled before its start.
        bus.subscribe(Event, self._on_event, name="ocpi")

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, TransactionStarted):
            await self.sessions.on_started(event)
        elif isinstance(event, MeterValuesReceived):
            await self.sessions.on_meter_values(event)
        elif isinstance(event, TransactionStopped):
            await self.sessions.on_stopped(event)
        elif isinstance(event, StatusChanged):
            await self.publisher.on_status(event)
        elif isinstance(event, CdrCreated):
            await self.sessions.on_billing_cdr(event.cdr_id, event.transaction_id)

    def base_url(self, request: Request | None = None) -> str:
        """Where partners reach our /ocpi: configured, or learnt from the first request."""
        if self._base_url is None and request is not None:
            self._base_url = str(request.base_url).rstrip("/")
        if self._base_url is None:
            raise RuntimeError("the OCPI base URL is not known yet; set OcpiOptions.base_url")
        return self._base_url

    def set_base_url(self, url: str) -> None:
        """Set where partners reach our /ocpi (the app does this once the HTTP port is bound)."""
        if self.options.base_url is None:
            self._base_url = url.rstrip("/")

    def versions_url(self) -> str:
        return f"{self.base_url()}/versions"

    def asgi_app(self) -> ASGIApp:
        """The OCPI server to mount at /ocpi."""
        from voltbridge.ocpi.server import create_ocpi_app

        return create_ocpi_app(self)

    async def start(self) -> None:
        await self.outbox.start()

    async def close(self) -> None:
        await self.commands.close()
        await self.outbox.close()
        await self.client.aclose()

    async def tariff_objects(self) -> list[dict[str, Any]]:
        """The Tariffs we publish, in their 2.2.1 wire shape."""
        now = self.clock.now()
        return [tariff_wire(t, self.options, now=now) for t in await self.tariffs.tariffs()]

    async def put_tariff(self, tariff: Tariff) -> int:
        """Publish (or replace) a Tariff held in memory and push it; returns partners queued.

        Only for `MemoryTariffSource`; with the billing tariff store, call `publisher.push_tariff`
        when a tariff changes there.
        """
        if not isinstance(self.tariffs, MemoryTariffSource):
            raise TypeError("tariffs come from the billing store; push with publisher.push_tariff")
        self.tariffs.put(tariff)
        return await self.publisher.push_tariff(tariff.id)

    async def delete_tariff(self, tariff_id: str) -> int:
        if not isinstance(self.tariffs, MemoryTariffSource):
            raise TypeError("tariffs come from the billing store; push with publisher.push_tariff")
        self.tariffs.remove(tariff_id)
        return await self.publisher.push_tariff(tariff_id, deleted=True)

    async def register(self, partner_id: int) -> OcpiPartner:
        """Register with a partner (we start the handshake), then send it our Locations and Tariffs."""
        partner = await self.registration.register(partner_id)
        await self.initial_sync(partner.id)
        return partner

    async def initial_sync(self, partner_id: int) -> None:
        """Queue the full set of Locations and Tariffs for a newly registered partner."""
        await self.publisher.sync_locations(partner_id)
        await self.publisher.sync_tariffs()


class _CdrView:
    """The CDRs module's reads (the Sender GET)."""

    def __init__(self, sessions: SessionPublisher) -> None:
        self._sessions = sessions

    async def for_partner(self, partner: OcpiPartner) -> list[dict[str, Any]]:
        return await self._sessions.cdrs_for(partner)

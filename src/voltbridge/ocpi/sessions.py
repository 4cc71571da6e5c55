"""Sessions and CDRs of roaming drivers: built from our transactions, priced by the billing engine,
stored, served (Sender GET) and pushed to the eMSP that owns the token.

One pricing path for both (citrineos-core PR #903): `price` below feeds the Session's live
`total_cost` and the CDR's totals and charging periods.

Push pattern (OCPI-NOTES 9): PUT when the session starts, PATCH `kwh`/`total_cost`/`last_updated` as
meter values arrive, a final PUT with status COMPLETED and every charging period, then POST the CDR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.billing.tariffs import (
    ChargingSession,
    PeriodKind,
    PricingResult,
    SessionSample,
    Tariff,
    price_session,
)
from voltbridge.core.clock import Clock
from voltbridge.core.errors import InvalidInput
from voltbridge.core.events import MeterValuesReceived, TransactionStarted, TransactionStopped
from voltbridge.core.metering import REGISTER
from voltbridge.core.transactions.service import TransactionService
from voltbridge.ocpi.options import OcpiOptions
from voltbridge.ocpi.outbox import add_push, supersede
from voltbridge.ocpi.partners import is_hub
from voltbridge.ocpi.sources import EvseRef, LocationSource, TariffSource, tariff_wire
from voltbridge.ocpi.tokens import TokenStore, cdr_token
from voltbridge.ocpi.types import format_datetime
from voltbridge.ocpi.v221.cdrs import Cdr
from voltbridge.ocpi.v221.sessions import AuthMethod, Session, SessionStatus
from voltbridge.store import Database
from voltbridge.store.models import Transaction
from voltbridge.store.models.ocpi import OcpiCdr, OcpiPartner, OcpiPendingStart, OcpiSession

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Priced:
    """A transaction's price (None without a tariff) and the tariff used."""

    tariff: Tariff | None
    result: PricingResult | None


class CdrSource(Protocol):
    """Turns a finished roaming session into the CDR we publish.

    `PricingCdrSource` prices it here with the billing engine; when billing CDRs exist (issue 5), an
    implementation over them replaces it so OCPI and the API show the same CDR.
    """

    async def cdr(self, row: OcpiSession, tx: Transaction, location: dict[str, Any] | None) -> dict[str, Any]:
        """The CDR object (2.2.1 wire shape) of a completed session."""
        ...


class BillingCdrs(Protocol):
    """The CDRs billing issues (issue 5): when wired, OCPI publishes those instead of pricing its own."""

    async def ocpi_fields(self, cdr_id: int) -> dict[str, Any] | None:
        """The OCPI fields billing knows of one of its CDRs (`billing.ocpi_cdr`), or None."""
        ...


def _price_to_wire(excl: Decimal, incl: Decimal | None) -> dict[str, Any]:
    out: dict[str, Any] = {"excl_vat": excl}
    if incl is not None:
        out["incl_vat"] = incl
    return out


class Pricer:
    """Prices a transaction from its meter values with the tariff of its connector."""

    def __init__(self, transactions: TransactionService, tariffs: TariffSource) -> None:
        self._transactions = transactions
        self._tariffs = tariffs

    async def price(self, tx: Transaction, end: datetime, time_zone: str) -> Priced:
        tariff = await self._tariffs.tariff_for(tx.station_id, tx.connector_id)
        if tariff is None or tx.started_at is None or end <= tx.started_at:
            return Priced(tariff, None)
        rows, _ = await self._transactions.meter_values_of(tx.id, limit=100_000)
        samples = [SessionSample(at=tx.started_at, energy_wh=tx.meter_start_wh or 0)]
        for row in rows:
            if row.measurand == REGISTER and row.phase is None and row.value is not None:
                wh = round(row.value)
                if (
                    tx.started_at <= row.at <= end
                    and wh >= samples[-1].energy_wh
                    and row.at >= samples[-1].at
                ):
                    samples.append(SessionSample(at=row.at, energy_wh=wh))
        # The stop reading counts only when pricing up to the stop (a running cost stops at `end`).
        last_wh = tx.meter_stop_wh
        stopped = tx.stopped_at is not None and end >= tx.stopped_at
        if stopped and last_wh is not None and last_wh >= samples[-1].energy_wh and end >= samples[-1].at:
            samples.append(SessionSample(at=end, energy_wh=last_wh))
        try:
            tz = ZoneInfo(time_zone)
        except ZoneInfoNotFoundError:
            tz = ZoneInfo("UTC")
        try:
            result = price_session(
                tariff, ChargingSession(start=tx.started_at, end=end, samples=samples, tz=tz)
            )
        except InvalidInput as exc:
            log.warning("could not price transaction %s: %s", tx.id, exc)
            return Priced(tariff, None)
        return Priced(tariff, result)


def charging_periods(priced: Priced, tx: Transaction, end: datetime, kwh: Decimal) -> list[dict[str, Any]]:
    """ChargingPeriods: the priced periods (cost-relevant boundaries) or one period for the whole session."""
    result = priced.result
    tariff_id = priced.tariff.id if priced.tariff else None
    if result is None or not result.periods:
        start = tx.started_at or end
        hours = Decimal((end - start).total_seconds()) / Decimal(3600)
        period: dict[str, Any] = {
            "start_date_time": format_datetime(start),
            "dimensions": [{"type": "ENERGY", "volume": kwh}, {"type": "TIME", "volume": round(hours, 4)}],
        }
        if tariff_id:
            period["tariff_id"] = tariff_id
        return [period]
    periods = []
    for p in result.periods:
        dims: list[dict[str, Any]] = [{"type": "ENERGY", "volume": p.energy_kwh}]
        if p.kind is PeriodKind.PARKING:
            dims.append({"type": "PARKING_TIME", "volume": p.parking_time_h})
        elif p.kind is PeriodKind.RESERVATION:
            dims.append({"type": "RESERVATION_TIME", "volume": p.reservation_time_h})
        else:
            dims.append({"type": "TIME", "volume": p.time_h})
        item: dict[str, Any] = {"start_date_time": format_datetime(p.start), "dimensions": dims}
        if tariff_id:
            item["tariff_id"] = tariff_id
        periods.append(item)
    return periods


class PricingCdrSource:
    """CDRs priced here with the billing engine (the tariff in force at session start, snapshotted)."""

    def __init__(self, pricer: Pricer, options: OcpiOptions, clock: Clock) -> None:
        self._pricer = pricer
        self._options = options
        self._clock = clock

    async def cdr(self, row: OcpiSession, tx: Transaction, location: dict[str, Any] | None) -> dict[str, Any]:
        end = tx.stopped_at or self._clock.now()
        start = tx.started_at or end
        time_zone = (location or {}).get("time_zone") or self._options.default_time_zone
        priced = await self._pricer.price(tx, end, time_zone)
        kwh = Decimal(tx.energy_wh or 0) / Decimal(1000)
        session = row.data
        cdr: dict[str, Any] = {
            "country_code": self._options.country_code,
            "party_id": self._options.party_id,
            "id": row.id,
            "start_date_time": format_datetime(start),
            "end_date_time": format_datetime(end),
            "session_id": row.id,
            "cdr_token": row.cdr_token,
            "auth_method": row.auth_method,
            "cdr_location": _cdr_location(session, location, self._options),
            "currency": (priced.tariff.currency if priced.tariff else self._options.currency),
            "charging_periods": charging_periods(priced, tx, end, kwh),
            "total_energy": kwh,
            "total_time": round(Decimal((end - start).total_seconds()) / Decimal(3600), 4),
            "last_updated": format_datetime(self._clock.now()),
        }
        if row.authorization_reference:
            cdr["authorization_reference"] = row.authorization_reference
        result = priced.result
        if result is not None and priced.tariff is not None:
            cdr["tariffs"] = [tariff_wire(priced.tariff, self._options, now=self._clock.now())]
            cdr["total_cost"] = _price_to_wire(result.total_cost.excl_vat, result.total_cost.incl_vat)
            for name, cost in (
                ("total_fixed_cost", result.fixed_cost),
                ("total_energy_cost", result.energy_cost),
                ("total_time_cost", result.time_cost),
                ("total_parking_cost", result.parking_cost),
                ("total_reservation_cost", result.reservation_cost),
            ):
                if cost.excl_vat:
                    cdr[name] = _price_to_wire(cost.excl_vat, cost.incl_vat)
            if result.total_parking_time_h:
                cdr["total_parking_time"] = result.total_parking_time_h
        else:
            cdr["total_cost"] = {"excl_vat": Decimal(0), "incl_vat": Decimal(0)}
            cdr["remark"] = "no tariff applied to this connector; not priced"
        return Cdr.model_validate(cdr).to_wire()


def _cdr_location(
    session: dict[str, Any], location: dict[str, Any] | None, options: OcpiOptions
) -> dict[str, Any]:
    loc = location or {}
    evse: dict[str, Any] = next((e for e in loc.get("evses", []) if e.get("uid") == session["evse_uid"]), {})
    connector = (evse.get("connectors") or [{}])[0]
    return {
        "id": session["location_id"],
        "name": loc.get("name"),
        "address": str(loc.get("address", "unknown"))[:45],
        "city": loc.get("city", "unknown"),
        "postal_code": loc.get("postal_code"),
        "country": loc.get("country", options.default_country),
        "coordinates": loc.get("coordinates", {"latitude": "0.000000", "longitude": "0.000000"}),
        "evse_uid": session["evse_uid"],
        "evse_id": evse.get("evse_id") or session["evse_uid"],
        "connector_id": session["connector_id"],
        "connector_standard": connector.get("standard", "IEC_62196_T2"),
        "connector_format": connector.get("format", "SOCKET"),
        "connector_power_type": connector.get("power_type", "AC_3_PHASE"),
    }


class SessionPublisher:
    """Keeps the OCPI Session (and then the CDR) of every roaming transaction, and queues its pushes."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        options: OcpiOptions,
        transactions: TransactionService,
        locations: LocationSource,
        tokens: TokenStore,
        pricer: Pricer,
        cdrs: CdrSource,
        wake: Any,
        billing_cdrs: BillingCdrs | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._options = options
        self._transactions = transactions
        self._locations = locations
        self._tokens = tokens
        self._pricer = pricer
        self._cdrs = cdrs
        self._wake = wake
        self._billing_cdrs = billing_cdrs
        # Meter values are the busiest event there is. Which transactions roam is kept in memory
        # (loaded once), and a session's running figures are pushed at most every
        # `session_update_interval`, so an event for one of our own drivers costs no query.
        self._roaming: set[int] | None = None
        self._last_update: dict[int, datetime] = {}

    async def for_partner(self, partner: OcpiPartner) -> list[dict[str, Any]]:
        """The partner's sessions (a hub sees all), oldest last_updated first."""
        query = select(OcpiSession).order_by(OcpiSession.last_updated, OcpiSession.id)
        if not is_hub(partner):
            query = query.where(OcpiSession.partner_id == partner.id)
        async with self._db.read() as session:
            return [row.data for row in (await session.scalars(query)).all()]

    async def get_for(self, partner: OcpiPartner, session_id: str) -> dict[str, Any] | None:
        for data in await self.for_partner(partner):
            if str(data["id"]).casefold() == session_id.casefold():
                return data
        return None

    async def cdrs_for(self, partner: OcpiPartner) -> list[dict[str, Any]]:
        query = select(OcpiCdr).order_by(OcpiCdr.last_updated, OcpiCdr.id)
        if not is_hub(partner):
            query = query.where(OcpiCdr.partner_id == partner.id)
        async with self._db.read() as session:
            return [row.data for row in (await session.scalars(query)).all()]

    async def on_started(self, event: TransactionStarted) -> None:
        if not event.id_tag:
            return
        ref = await self._locations.evse_of(event.station_id, event.connector_id)
        if ref is None:
            return  # not a published EVSE: nothing to roam
        start = await self._claim_start(event.station_id, event.connector_id, event.id_tag)
        if start is None:
            cached = [c for c in await self._tokens.find(event.id_tag) if c.token.valid]
            if not cached:
                return  # one of our own drivers
            partner_id, token, method, reference = (
                cached[0].partner_id,
                cdr_token(cached[0].token),
                "WHITELIST",
                None,
            )
        else:
            partner_id, token, method, reference = start
        tx = await self._transactions.get(event.transaction_id)
        now = self._clock.now()
        data = self._session(
            str(tx.id), tx, ref, token, method, reference, SessionStatus.ACTIVE, now, kwh=Decimal(0)
        )
        async with self._db.transaction() as session:
            if await session.get(OcpiSession, data["id"]) is not None:
                return  # a repeated event
            session.add(
                OcpiSession(
                    id=data["id"],
                    transaction_id=tx.id,
                    partner_id=partner_id,
                    station_id=tx.station_id,
                    connector_id=tx.connector_id,
                    cdr_token=token,
                    auth_method=method,
                    authorization_reference=reference,
                    status=str(SessionStatus.ACTIVE),
                    data=data,
                    last_updated=now,
                    created_at=now,
                )
            )
            await self._queue_put(session, partner_id, data, now)
        (await self._roaming_transactions()).add(tx.id)
        self._wake()

    async def _roaming_transactions(self) -> set[int]:
        if self._roaming is None:
            async with self._db.read() as session:
                ids = await session.scalars(
                    select(OcpiSession.transaction_id).where(OcpiSession.status == str(SessionStatus.ACTIVE))
                )
                self._roaming = {i for i in ids if i is not None}
        return self._roaming

    async def on_meter_values(self, event: MeterValuesReceived) -> None:
        if event.transaction_id is None or event.transaction_id not in await self._roaming_transactions():
            return
        now = self._clock.now()
        last = self._last_update.get(event.transaction_id)
        if last is not None and (now - last).total_seconds() < self._options.session_update_interval:
            return
        self._last_update[event.transaction_id] = now
        row = await self._row(event.transaction_id)
        if row is None or row.status != SessionStatus.ACTIVE:
            return
        tx = await self._transactions.get(event.transaction_id)
        now = self._clock.now()
        # The event's reading, not the transaction's latest: events are handled after the fact.
        reading = event.last_register_wh if event.last_register_wh is not None else tx.last_meter_wh
        kwh = Decimal(max((reading or 0) - (tx.meter_start_wh or 0), 0)) / Decimal(1000)
        priced = await self._pricer.price(
            tx, event.at or tx.last_meter_at or now, self._options.default_time_zone
        )
        patch: dict[str, Any] = {"kwh": kwh, "last_updated": format_datetime(now)}
        if priced.result is not None:
            cost = priced.result.total_cost
            patch["total_cost"] = _price_to_wire(cost.excl_vat, cost.incl_vat)
        async with self._db.transaction() as session:
            stored = await session.get(OcpiSession, row.id)
            if stored is None:
                return
            data = Session.model_validate({**stored.data, **patch}).to_wire()
            stored.data = data
            stored.last_updated = now
            if stored.partner_id is not None:
                wire_patch: dict[str, Any] = {
                    k: data[k] for k in ("kwh", "last_updated", "total_cost") if k in data
                }
                add_push(
                    session,
                    partner_id=stored.partner_id,
                    module="sessions",
                    method="PATCH",
                    path=self._path(data),
                    body=wire_patch,
                    object_key=f"sessions/{data['id']}",
                    now=now,
                )
        self._wake()

    async def on_stopped(self, event: TransactionStopped) -> None:
        self._last_update.pop(event.transaction_id, None)
        (await self._roaming_transactions()).discard(event.transaction_id)
        row = await self._row(event.transaction_id)
        if row is None or row.status != SessionStatus.ACTIVE:
            return
        tx = await self._transactions.get(event.transaction_id)
        now = self._clock.now()
        end = tx.stopped_at or now
        location = await self._location_wire(row.data["location_id"])
        time_zone = (location or {}).get("time_zone") or self._options.default_time_zone
        priced = await self._pricer.price(tx, end, time_zone)
        kwh = Decimal(max(tx.energy_wh or 0, 0)) / Decimal(1000)
        data = dict(row.data)
        data.update(
            status=str(SessionStatus.COMPLETED),
            end_date_time=format_datetime(end),
            kwh=kwh,
            charging_periods=charging_periods(priced, tx, end, kwh),
            last_updated=format_datetime(now),
        )
        if priced.result is not None:
            data["total_cost"] = _price_to_wire(
                priced.result.total_cost.excl_vat, priced.result.total_cost.incl_vat
            )
        data = Session.model_validate(data).to_wire()
        # With billing CDRs wired, the CDR follows billing's CdrCreated (see on_billing_cdr).
        cdr = None if self._billing_cdrs is not None else await self._cdrs.cdr(row, tx, location)
        async with self._db.transaction() as session:
            stored = await session.get(OcpiSession, row.id)
            if stored is None:
                return
            stored.data = data
            stored.status = str(SessionStatus.COMPLETED)
            stored.last_updated = now
            if stored.partner_id is not None:
                await self._queue_put(session, stored.partner_id, data, now)
            if cdr is not None:
                await _store_cdr(session, cdr, tx.id, stored.partner_id, now)
        self._wake()

    async def on_billing_cdr(self, cdr_id: int, transaction_id: int) -> None:
        """Publish a CDR billing issued (a first CDR, a credit CDR or its replacement) for a roaming
        session: billing's figures plus the OCPI fields only we know (party, token, location)."""
        if self._billing_cdrs is None:
            return
        row = await self._row(transaction_id)
        if row is None:
            return  # not a roaming session
        fields = await self._billing_cdrs.ocpi_fields(cdr_id)
        if fields is None:
            return
        location = await self._location_wire(row.data["location_id"])
        now = self._clock.now()
        cdr: dict[str, Any] = {
            **fields,
            "country_code": self._options.country_code,
            "party_id": self._options.party_id,
            "cdr_token": row.cdr_token,
            "auth_method": row.auth_method,
            "cdr_location": _cdr_location(row.data, location, self._options),
            "last_updated": format_datetime(now),
        }
        if row.authorization_reference:
            cdr["authorization_reference"] = row.authorization_reference
        cdr = Cdr.model_validate(cdr).to_wire()
        async with self._db.transaction() as session:
            await _store_cdr(session, cdr, transaction_id, row.partner_id, now)
        self._wake()

    async def _location_wire(self, location_id: str) -> dict[str, Any] | None:
        location = await self._locations.location(location_id)
        return None if location is None else location.to_wire()

    async def _row(self, transaction_id: int) -> OcpiSession | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(OcpiSession).where(OcpiSession.transaction_id == transaction_id)
            )

    async def _claim_start(
        self, station_id: str, connector_id: int, id_tag: str
    ) -> tuple[int, dict[str, Any], str, str | None] | None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            rows = (
                await session.scalars(
                    select(OcpiPendingStart)
                    .where(
                        OcpiPendingStart.station_id == station_id,
                        OcpiPendingStart.id_tag == id_tag,
                        OcpiPendingStart.expires_at >= now,
                    )
                    .order_by(OcpiPendingStart.id.desc())
                )
            ).all()
            for row in rows:
                if row.connector_id in (None, connector_id):
                    await session.delete(row)
                    return row.partner_id, row.cdr_token, row.auth_method, row.authorization_reference
        return None

    def _session(
        self,
        session_id: str,
        tx: Transaction,
        ref: EvseRef,
        token: dict[str, Any],
        method: str,
        reference: str | None,
        status: SessionStatus,
        now: datetime,
        *,
        kwh: Decimal,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "country_code": self._options.country_code,
            "party_id": self._options.party_id,
            "id": session_id,
            "start_date_time": format_datetime(tx.started_at or now),
            "kwh": kwh,
            "cdr_token": token,
            "auth_method": AuthMethod(method),
            "location_id": ref.location_id,
            "evse_uid": ref.evse_uid,
            "connector_id": ref.connector_id,
            "currency": self._options.currency,
            "charging_periods": [],
            "status": status,
            "last_updated": now,
        }
        if reference:
            data["authorization_reference"] = reference
        return Session.model_validate(data).to_wire()

    def _path(self, data: dict[str, Any]) -> str:
        return f"/{data['country_code']}/{data['party_id']}/{data['id']}"

    async def _queue_put(self, session: Any, partner_id: int, data: dict[str, Any], now: datetime) -> None:
        key = f"sessions/{data['id']}"
        await supersede(session, partner_id, key, now)
        add_push(
            session,
            partner_id=partner_id,
            module="sessions",
            method="PUT",
            path=self._path(data),
            body=data,
            object_key=key,
            now=now,
        )


async def _store_cdr(
    session: AsyncSession, cdr: dict[str, Any], transaction_id: int, partner_id: int | None, now: datetime
) -> None:
    """Keep a CDR and queue its push to the session's partner; a CDR kept already (a repeated event)
    is left as it is."""
    if await session.get(OcpiCdr, cdr["id"]) is not None:
        return
    session.add(
        OcpiCdr(
            id=cdr["id"],
            transaction_id=transaction_id,
            partner_id=partner_id,
            data=cdr,
            push_status="pending",
            last_updated=now,
        )
    )
    if partner_id is not None:
        add_push(
            session,
            partner_id=partner_id,
            module="cdrs",
            method="POST",
            path="",
            body=cdr,
            object_key=f"cdrs/{cdr['id']}",
            now=now,
        )

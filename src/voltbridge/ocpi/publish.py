"""Pushes of the objects everyone sees: Locations (PUT, then EVSE status PATCHes) and Tariffs (PUT/DELETE).

They go to every registered partner that has the module's Receiver interface (a hub forwards them).
A Location is PUT whole the first time a partner gets it (and on `sync_locations`); afterwards a
connector status change is a PATCH on the EVSE with its `last_updated`, as the spec intends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from voltbridge.core.clock import Clock
from voltbridge.core.events import StatusChanged
from voltbridge.ocpi.options import OcpiOptions
from voltbridge.ocpi.outbox import DONE, PENDING, add_push, supersede
from voltbridge.ocpi.partners import PartnerRegistry, endpoint_url
from voltbridge.ocpi.sources import LocationSource, TariffSource, evse_uid, tariff_wire
from voltbridge.ocpi.types import InterfaceRole, ModuleID, format_datetime
from voltbridge.ocpi.v211.convert import location_to_211
from voltbridge.ocpi.v221.locations import Location
from voltbridge.store import Database
from voltbridge.store.models.ocpi import OcpiOutboxItem, OcpiPartner


class Publisher:
    """Queues Location and Tariff pushes for every partner that receives them."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        options: OcpiOptions,
        registry: PartnerRegistry,
        locations: LocationSource,
        tariffs: TariffSource,
        wake: Any,
    ) -> None:
        self._db = db
        self._clock = clock
        self._options = options
        self._registry = registry
        self._locations = locations
        self._tariffs = tariffs
        self._wake = wake

    async def _receivers(self, module: ModuleID) -> list[OcpiPartner]:
        return [
            p
            for p in await self._registry.registered()
            if endpoint_url(p, module, InterfaceRole.RECEIVER) is not None
        ]

    def _location_body(self, partner: OcpiPartner, location: Location) -> dict[str, Any]:
        return location_to_211(location) if partner.version == "2.1.1" else location.to_wire()

    def _location_path(self, location: Location, *rest: str) -> str:
        return "/" + "/".join([self._options.country_code, self._options.party_id, location.id, *rest])

    async def sync_locations(self, partner_id: int | None = None) -> int:
        """PUT every published Location to one partner (or all); returns how many pushes were queued."""
        partners = await self._receivers(ModuleID.LOCATIONS)
        if partner_id is not None:
            partners = [p for p in partners if p.id == partner_id]
        locations = await self._locations.locations()
        now = self._clock.now()
        count = 0
        async with self._db.transaction() as session:
            for partner in partners:
                for location in locations:
                    key = f"locations/{location.id}"
                    await supersede(session, partner.id, key, now)
                    add_push(
                        session,
                        partner_id=partner.id,
                        module="locations",
                        method="PUT",
                        path=self._location_path(location),
                        body=self._location_body(partner, location),
                        object_key=key,
                        now=now,
                    )
                    count += 1
        if count:
            self._wake()
        return count

    async def on_status(self, event: StatusChanged) -> None:
        """A connector status changed: PATCH the EVSE where the Location is known, else PUT the Location."""
        location = await self._locations.location_of(event.station_id)
        uid = evse_uid(event.station_id, event.connector_id)
        evse = next((e for e in location.evses if e.uid == uid), None) if location else None
        if location is None or evse is None:
            return
        now = self._clock.now()
        partners = await self._receivers(ModuleID.LOCATIONS)
        async with self._db.transaction() as session:
            for partner in partners:
                key = f"locations/{location.id}"
                known = await session.scalar(
                    select(OcpiOutboxItem.id)
                    .where(
                        OcpiOutboxItem.partner_id == partner.id,
                        OcpiOutboxItem.object_key == key,
                        OcpiOutboxItem.method == "PUT",
                        OcpiOutboxItem.status.in_((DONE, PENDING)),
                    )
                    .limit(1)
                )
                if known is None or partner.version == "2.1.1":
                    await supersede(session, partner.id, key, now)
                    add_push(
                        session,
                        partner_id=partner.id,
                        module="locations",
                        method="PUT",
                        path=self._location_path(location),
                        body=self._location_body(partner, location),
                        object_key=key,
                        now=now,
                    )
                else:
                    add_push(
                        session,
                        partner_id=partner.id,
                        module="locations",
                        method="PATCH",
                        path=self._location_path(location, evse.uid),
                        body={"status": str(evse.status), "last_updated": format_datetime(evse.last_updated)},
                        object_key=key,
                        now=now,
                    )
        if partners:
            self._wake()

    async def push_tariff(self, tariff_id: str, *, deleted: bool = False) -> int:
        """PUT (or DELETE) one Tariff at every partner with a tariffs Receiver."""
        tariffs = {t.id: t for t in await self._tariffs.tariffs()}
        tariff = tariffs.get(tariff_id)
        now = self._clock.now()
        partners = [p for p in await self._receivers(ModuleID.TARIFFS) if p.version != "2.1.1"]
        path = f"/{self._options.country_code}/{self._options.party_id}/{tariff_id}"
        async with self._db.transaction() as session:
            for partner in partners:
                key = f"tariffs/{tariff_id}"
                await supersede(session, partner.id, key, now)
                if deleted or tariff is None:
                    add_push(
                        session,
                        partner_id=partner.id,
                        module="tariffs",
                        method="DELETE",
                        path=path,
                        body=None,
                        object_key=key,
                        now=now,
                    )
                else:
                    body = tariff_wire(tariff, self._options, now=now)
                    add_push(
                        session,
                        partner_id=partner.id,
                        module="tariffs",
                        method="PUT",
                        path=path,
                        body=body,
                        object_key=key,
                        now=now,
                    )
        if partners:
            self._wake()
        return len(partners)

    async def sync_tariffs(self) -> int:
        """PUT every Tariff to every partner with a tariffs Receiver."""
        count = 0
        for tariff in await self._tariffs.tariffs():
            count += await self.push_tariff(tariff.id)
        return count

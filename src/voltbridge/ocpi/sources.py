"""Where OCPI objects come from: small adapter interfaces, each with an implementation over what exists.

- `LocationSource`: charging areas become Locations, each station connector an EVSE (OCPP 1.x has
  one session per connector, so one connector per EVSE, as the spec advises); a station without an
  area is its own Location. Invisible stations (private networks) are never published.
- `TariffSource`: the tariffs we publish and which apply to a connector. Until the tariff store of
  the billing issue lands, `MemoryTariffSource` holds them (set through `OcpiService.tariffs`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.billing.tariffs import Tariff, tariff_to_ocpi
from voltbridge.ocpi.options import OcpiOptions
from voltbridge.ocpi.types import format_datetime
from voltbridge.ocpi.v221.locations import EVSE, Connector, Location, Status
from voltbridge.store import Database
from voltbridge.store.models import Connector as ConnectorRow
from voltbridge.store.models import Station
from voltbridge.store.models.operators import Area

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)

# OCPP 1.6 ChargePointStatus -> OCPI EVSE Status.
OCPP16_STATUS = {
    "Available": Status.AVAILABLE,
    "Preparing": Status.CHARGING,
    "Charging": Status.CHARGING,
    "SuspendedEV": Status.CHARGING,
    "SuspendedEVSE": Status.CHARGING,
    "Finishing": Status.CHARGING,
    "Reserved": Status.RESERVED,
    "Unavailable": Status.INOPERATIVE,
    "Faulted": Status.OUTOFORDER,
}

_ALPHA3 = {
    "NL": "NLD", "BE": "BEL", "DE": "DEU", "FR": "FRA", "LU": "LUX", "AT": "AUT", "CH": "CHE",
    "DK": "DNK", "SE": "SWE", "NO": "NOR", "FI": "FIN", "ES": "ESP", "PT": "PRT", "IT": "ITA",
    "GB": "GBR", "IE": "IRL", "PL": "POL", "CZ": "CZE",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class EvseRef:
    """Where an OCPI EVSE lives on our side."""

    location_id: str
    evse_uid: str
    connector_id: str  # the OCPI connector id ("1")
    station_id: str
    ocpp_connector_id: int
    status: Status


class LocationSource(Protocol):
    """The Locations we publish (already in OCPI 2.2.1 shape, published ones only)."""

    async def locations(self) -> list[Location]:
        """Every published Location, oldest `last_updated` first."""
        ...

    async def location(self, location_id: str) -> Location | None:
        """One published Location by id, compared without case."""
        ...

    async def location_of(self, station_id: str) -> Location | None:
        """The published Location a station is part of."""
        ...

    async def evse(self, location_id: str, evse_uid: str | None) -> EvseRef | None:
        """The EVSE (or, without uid, the first EVSE) of a published Location, compared without case."""
        ...

    async def evse_of(self, station_id: str, connector_id: int) -> EvseRef | None:
        """The OCPI EVSE of a station connector, if published."""
        ...

    async def evses_at(self, station_id: str) -> list[EvseRef]:
        """Every published EVSE of a station."""
        ...


class TariffSource(Protocol):
    """The Tariffs we publish, and which apply to a station connector."""

    async def tariffs(self) -> list[Tariff]:
        """Every Tariff we publish."""
        ...

    async def tariff_for(self, station_id: str, connector_id: int) -> Tariff | None:
        """The Tariff that prices a session on this connector now (None: unpriced)."""
        ...


@dataclass
class MemoryTariffSource:
    """Tariffs held in memory with assignments (station -> tariff id; "*" for every station)."""

    items: dict[str, Tariff] = field(default_factory=dict)
    assignments: dict[str, str] = field(default_factory=dict)

    async def tariffs(self) -> list[Tariff]:
        return sorted(self.items.values(), key=lambda t: (t.last_updated or _EPOCH, t.id))

    async def tariff_for(self, station_id: str, connector_id: int) -> Tariff | None:
        tariff_id = self.assignments.get(station_id) or self.assignments.get("*")
        return self.items.get(tariff_id) if tariff_id else None

    def put(self, tariff: Tariff) -> None:
        self.items[tariff.id] = tariff

    def remove(self, tariff_id: str) -> Tariff | None:
        return self.items.pop(tariff_id, None)

    def assign(self, station_id: str, tariff_id: str | None) -> None:
        if tariff_id is None:
            self.assignments.pop(station_id, None)
        else:
            self.assignments[station_id] = tariff_id


def tariff_wire(tariff: Tariff, options: OcpiOptions, *, now: datetime) -> dict[str, Any]:
    """A billing Tariff as the OCPI 2.2.1 object we publish (our party, last_updated always set)."""
    data: dict[str, Any] = tariff_to_ocpi(tariff)
    data["country_code"] = tariff.country_code or options.country_code
    data["party_id"] = tariff.party_id or options.party_id
    data["last_updated"] = format_datetime(tariff.last_updated or now)
    result: dict[str, Any] = _jsonable(data)
    return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


_ID_SAFE = re.compile(r"^[\x20-\x7E]{1,36}$")


def ocpi_id(text: str, prefix: str = "") -> str:
    """A CiString(36) id from one of ours: kept when it fits, else a stable digest."""
    candidate = f"{prefix}{text}"
    if _ID_SAFE.match(candidate):
        return candidate
    return prefix + hashlib.sha256(text.encode()).hexdigest()[: 36 - len(prefix)]


def evse_uid(station_id: str, connector_id: int) -> str:
    """The EVSE uid of a station connector (unique on our platform, never reused)."""
    return ocpi_id(f"{station_id}-{connector_id}")


def evse_id(options: OcpiOptions, station_id: str, connector_id: int) -> str:
    """An eMI3 EVSE id, e.g. NL*VBR*ECP1*1 (letters and digits of the station id)."""
    core = re.sub(r"[^A-Z0-9]", "", station_id.upper())[:24] or "X"
    return f"{options.country_code.upper()}*{options.party_id.upper()}*E{core}*{connector_id}"[:48]


def _coordinate(value: Decimal | None, default: str) -> str:
    return f"{value:.6f}" if value is not None else default


def _country(value: str | None, default: str) -> str:
    if not value:
        return default
    text = value.strip().upper()
    if len(text) == 3 and text.isalpha():
        return text
    return _ALPHA3.get(text, default)


class StoreLocationSource:
    """Locations built from charging areas, stations and their connectors' last reported status.

    A session start or a status change needs one station's Location: only that station's area is
    read for it, never the whole network (which made every start cost O(stations)).
    """

    def __init__(self, db: Database, options: OcpiOptions, tariffs: TariffSource) -> None:
        self._db = db
        self._options = options
        self._tariffs = tariffs
        self._refs: dict[str, tuple[str, int]] = {}  # evse uid (folded) -> (station id, connector id)

    async def locations(self) -> list[Location]:
        async with self._db.read() as session:
            stations = (await session.scalars(select(Station).order_by(Station.id))).all()
            areas = (await session.scalars(select(Area))).all()
            connectors = (await session.scalars(select(ConnectorRow))).all()
        return await self._build(stations, areas, connectors)

    async def location(self, location_id: str) -> Location | None:
        wanted = location_id.casefold()
        async with self._db.read() as session:
            areas = (await session.scalars(select(Area))).all()
            area = next((a for a in areas if ocpi_id(a.code).casefold() == wanted), None)
            if area is not None:
                found = await self._area_location(session, area)
            else:
                # A station without an area is its own Location: "S-" and its id (or a digest of it).
                loose = (await session.scalars(select(Station.id).where(Station.area_id.is_(None)))).all()
                station_id = next((i for i in loose if ocpi_id(i, "S-").casefold() == wanted), None)
                found = None if station_id is None else await self._station_location(session, station_id)
        return found

    async def location_of(self, station_id: str) -> Location | None:
        async with self._db.read() as session:
            return await self._station_location(session, station_id)

    async def _station_location(self, session: AsyncSession, station_id: str) -> Location | None:
        station = await session.get(Station, station_id)
        if station is None:
            return None
        if station.area_id is not None:
            area = await session.get(Area, station.area_id)
            if area is not None:
                return await self._area_location(session, area)
        return _only(await self._build([station], [], await _connectors(session, [station_id])))

    async def _area_location(self, session: AsyncSession, area: Area) -> Location | None:
        members = (
            await session.scalars(select(Station).where(Station.area_id == area.id).order_by(Station.id))
        ).all()
        connectors = await _connectors(session, [m.id for m in members])
        return _only(await self._build(members, [area], connectors))

    async def _build(
        self, stations: Sequence[Station], areas: Sequence[Area], connectors: Sequence[ConnectorRow]
    ) -> list[Location]:
        """The published Locations of these stations, grouped by area (a station without one is its own)."""
        by_area = {a.id: a for a in areas}
        by_station: dict[str, list[ConnectorRow]] = {}
        for row in connectors:
            if row.connector_id > 0:
                by_station.setdefault(row.station_id, []).append(row)
        groups: dict[str, tuple[Area | None, list[Station]]] = {}
        for station in stations:
            if not station.visible or station.registration_status != "Accepted":
                continue
            area = by_area.get(station.area_id or -1)
            key = ocpi_id(area.code) if area is not None else ocpi_id(station.id, "S-")
            groups.setdefault(key, (area, []))[1].append(station)
        result = []
        for location_id, (area, members) in groups.items():
            evses: list[EVSE] = []
            for station in members:
                for row in sorted(by_station.get(station.id, []), key=lambda r: r.connector_id):
                    evses.append(await self._evse(station, row))
            if not evses:
                continue
            result.append(self._location(location_id, area, members, evses))
        result.sort(key=lambda loc: (loc.last_updated, loc.id))
        return result

    async def _evse(self, station: Station, row: ConnectorRow) -> EVSE:
        self._refs[evse_uid(station.id, row.connector_id).casefold()] = (station.id, row.connector_id)
        status = OCPP16_STATUS.get(row.status, Status.UNKNOWN) if station.connected_node else Status.UNKNOWN
        updated = max(row.updated_at, station.updated_at)
        tariff = await self._tariffs.tariff_for(station.id, row.connector_id)
        connector = Connector(
            id="1",
            standard="IEC_62196_T2",  # until stations carry connector data
            format="SOCKET",
            power_type="AC_3_PHASE",
            max_voltage=230,
            max_amperage=32,
            tariff_ids=[tariff.id] if tariff is not None else [],
            last_updated=updated,
        )
        return EVSE(
            uid=evse_uid(station.id, row.connector_id),
            evse_id=evse_id(self._options, station.id, row.connector_id),
            status=status,
            capabilities=[
                "REMOTE_START_STOP_CAPABLE",
                "RESERVABLE",
                "RFID_READER",
                "UNLOCK_CAPABLE",
            ],
            connectors=[connector],
            physical_reference=str(row.connector_id),
            last_updated=updated,
        )

    def _location(
        self, location_id: str, area: Area | None, members: Sequence[Station], evses: list[EVSE]
    ) -> Location:
        o = self._options
        updated = max([e.last_updated for e in evses] + [area.updated_at if area else _EPOCH])
        return Location.model_validate(
            {
                "country_code": o.country_code,
                "party_id": o.party_id,
                "id": location_id,
                "publish": True,
                "name": (area.name if area else members[0].description or members[0].id)[:255],
                "address": ((area.address if area else None) or "unknown")[:255],
                "city": ((area.city if area else None) or "unknown")[:45],
                "postal_code": (area.zip[:10] if area and area.zip else None),
                "country": _country(area.country if area else None, o.default_country),
                "coordinates": {
                    "latitude": _coordinate(area.latitude if area else None, "0.000000"),
                    "longitude": _coordinate(area.longitude if area else None, "0.000000"),
                },
                "evses": [e.model_dump() for e in evses],
                "time_zone": (area.timezone if area and area.timezone else o.default_time_zone),
                "last_updated": updated,
            }
        )

    async def evse(self, location_id: str, evse_uid: str | None) -> EvseRef | None:
        location = await self.location(location_id)
        if location is None:
            return None
        for evse in location.evses:
            if evse_uid is None or evse.uid.casefold() == evse_uid.casefold():
                return self._ref(location, evse)
        return None

    async def evse_of(self, station_id: str, connector_id: int) -> EvseRef | None:
        uid = evse_uid(station_id, connector_id)
        location = await self.location_of(station_id)
        evse = next((e for e in location.evses if e.uid == uid), None) if location else None
        return None if location is None or evse is None else self._ref(location, evse)

    async def evses_at(self, station_id: str) -> list[EvseRef]:
        location = await self.location_of(station_id)
        if location is None:
            return []
        return [
            self._ref(location, evse)
            for evse in location.evses
            if self._refs[evse.uid.casefold()][0] == station_id
        ]

    def _ref(self, location: Location, evse: EVSE) -> EvseRef:
        station_id, connector = self._refs[evse.uid.casefold()]
        return EvseRef(
            location_id=location.id,
            evse_uid=evse.uid,
            connector_id=evse.connectors[0].id,
            station_id=station_id,
            ocpp_connector_id=connector,
            status=evse.status,
        )


async def _connectors(session: AsyncSession, station_ids: Sequence[str]) -> Sequence[ConnectorRow]:
    if not station_ids:
        return []
    return (await session.scalars(select(ConnectorRow).where(ConnectorRow.station_id.in_(station_ids)))).all()


def _only(locations: list[Location]) -> Location | None:
    return locations[0] if locations else None

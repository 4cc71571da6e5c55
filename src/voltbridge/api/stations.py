"""`/api/v1/stations`: registration, live state, connectors, boot data and what stations reported."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, Services, ServicesDep, authenticated
from voltbridge.api.operators import OperatorServicesDep
from voltbridge.api.tariffs import BillingDep
from voltbridge.api.wire import ListOf, Model, Out, UtcTime
from voltbridge.core.errors import InvalidInput
from voltbridge.core.stations.service import StationUpdate

router = APIRouter(prefix="/stations", tags=["stations"], dependencies=[Depends(authenticated)])

OcppVersionName = Literal["ocpp1.6", "ocpp2.0.1"]
RegistrationStatus = Literal["Accepted", "Pending", "Rejected"]

# What `status` says when connector 0 (the station itself) has not reported.
OFFLINE = "Offline"
UNKNOWN = "Unavailable"


class StationIn(Model):
    """A station to pre-register, so that it is accepted when it connects."""

    id: str = Field(min_length=1, max_length=64, description="the charge point identity in the OCPP URL")
    password: str | None = Field(
        default=None, description="HTTP Basic password (security profiles 1 and 2); none: no password"
    )
    area_id: int | None = Field(
        default=None, description="the charging area (an operator user must give one)"
    )
    ocpp_version: OcppVersionName | None = None
    description: str | None = Field(default=None, max_length=2000)
    lenient: bool = Field(default=False, description="accept known schema quirks from this charger")


class StationPatch(Model):
    """Fields to change; a field left out stays as it is. `password: null` removes the password."""

    password: str | None = None
    description: str | None = Field(default=None, max_length=2000)
    lenient: bool | None = None
    registration_status: RegistrationStatus | None = None
    area_id: int | None = Field(default=None, description="move into this charging area (null: out of any)")
    visible: bool | None = Field(default=None, description="false: only the operator's private network")
    tariff_id: int | None = Field(
        default=None, description="the tariff for everybody at this station (null: the area's applies)"
    )


class ConnectorOut(Out):
    """A connector's last reported status; connector 0 is the station as a whole."""

    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    status_at: UtcTime


class StationOut(Out):
    """A station: registration, live connection, connector statuses and what it said at boot."""

    id: str
    description: str | None
    ocpp_version: str | None
    registration_status: str
    lenient: bool
    area_id: int | None = Field(description="the charging area the station belongs to")
    visible: bool = Field(description="false: hidden from public listings, private network only")
    has_password: bool
    connected: bool = Field(description="a socket for this station is open now")
    status: str = Field(description='connector 0\'s status; "Offline" when not connected')
    connectors: list[ConnectorOut]
    vendor: str | None
    model: str | None
    serial_number: str | None
    charge_box_serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    booted_at: UtcTime | None
    last_seen_at: UtcTime | None
    connected_at: UtcTime | None
    disconnected_at: UtcTime | None
    created_at: UtcTime
    updated_at: UtcTime


class StationEventOut(Out):
    """Something a station reported or did that has no table of its own (status history, quirks, …)."""

    id: int
    kind: str
    at: UtcTime
    data: dict[str, Any]


async def station_views(services: Services, stations: Sequence[Any]) -> list[StationOut]:
    """The wire form of stations, with live connection state and connector statuses."""
    connectors = await services.stations.connectors([s.id for s in stations])
    views = []
    for station in stations:
        # The bus knows whether a socket is registered right now; the row whether the station's last
        # connection has not ended. Both must agree: either alone can lag behind a closed socket.
        connected = station.connected_node is not None and services.bus.holds(station.id)
        own = [ConnectorOut.model_validate(c) for c in connectors.get(station.id, [])]
        station_status = OFFLINE
        if connected:
            station_status = next((c.status for c in own if c.connector_id == 0), UNKNOWN)
        fields = {name: getattr(station, name) for name in _STATION_COLUMNS}
        fields["description"] = station.description or None
        views.append(
            StationOut(
                **fields,
                has_password=station.password_hash is not None,
                connected=connected,
                status=station_status,
                connectors=own,
            )
        )
    return views


_STATION_COLUMNS = tuple(
    name
    for name in StationOut.model_fields
    if name not in {"has_password", "connected", "status", "connectors"}
)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Pre-register a station")
async def create_station(body: StationIn, services: ServicesDep, principal: CurrentPrincipal) -> StationOut:
    station = await services.stations.register(
        body.id,
        password=body.password,
        ocpp_version=body.ocpp_version,
        description=body.description,
        lenient=body.lenient,
        area_id=body.area_id,
        principal=principal,
    )
    return (await station_views(services, [station]))[0]


@router.get("", summary="List stations")
async def list_stations(
    services: ServicesDep, page: PageDep, principal: CurrentPrincipal
) -> ListOf[StationOut]:
    stations, total = await services.stations.get_all(
        limit=page.limit, offset=page.offset, principal=principal
    )
    return ListOf[StationOut](items=await station_views(services, stations), total=total)


@router.get("/{station_id}", summary="One station")
async def get_station(station_id: str, services: ServicesDep, principal: CurrentPrincipal) -> StationOut:
    station = await services.stations.get(station_id, principal=principal)
    return (await station_views(services, [station]))[0]


@router.patch("/{station_id}", summary="Change a station")
async def update_station(
    station_id: str,
    body: StationPatch,
    services: ServicesDep,
    principal: CurrentPrincipal,
    operators: OperatorServicesDep,
    billing: BillingDep,
) -> StationOut:
    given = body.model_fields_set
    for name in ("lenient", "registration_status", "visible"):
        if name in given and getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it")
    change = StationUpdate(
        password=body.password,
        clear_password="password" in given and body.password is None,
        # The service keeps None as "unchanged", so a cleared description is stored empty.
        description="" if "description" in given and body.description is None else body.description,
        lenient=body.lenient,
        registration_status=body.registration_status,
    )
    if given & {"area_id", "visible"}:
        # The station's place (area, visibility) is the operators' domain, audited there.
        await operators.areas.place_station(
            station_id, area_id=body.area_id, visible=body.visible, move="area_id" in given, actor=principal
        )
    station = await services.stations.update(station_id, change, principal=principal)
    if "tariff_id" in given:
        await billing.tariffs.set_station_tariff(station_id, body.tariff_id, actor=principal)
    return (await station_views(services, [station]))[0]


@router.delete("/{station_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a station")
async def delete_station(station_id: str, services: ServicesDep, principal: CurrentPrincipal) -> Response:
    await services.stations.delete(station_id, principal=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{station_id}/events", summary="What a station reported: status history, quirks, data transfers")
async def list_station_events(
    station_id: str,
    services: ServicesDep,
    page: PageDep,
    principal: CurrentPrincipal,
    kind: Annotated[str | None, Query(description="only events of this kind, e.g. status, quirk")] = None,
) -> ListOf[StationEventOut]:
    events, total = await services.stations.events(
        station_id, kind=kind, limit=page.limit, offset=page.offset, principal=principal
    )
    return ListOf[StationEventOut](items=[StationEventOut.model_validate(e) for e in events], total=total)

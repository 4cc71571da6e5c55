"""The OCPI 2.2.1 routes of our CPO: versions, credentials, and the CPO side of every module."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from voltbridge.ocpi.errors import ClientError, InvalidParameters, MethodNotAllowed, UnknownToken
from voltbridge.ocpi.server.common import (
    Caller,
    Page,
    Partner,
    json_body,
    ok,
    paged,
    service_of,
    window,
)
from voltbridge.ocpi.transport import routing_from
from voltbridge.ocpi.types import InterfaceRole, ModuleID, ci_equal, parse_datetime
from voltbridge.ocpi.v221.sessions import ChargingPreferences, ChargingPreferencesResponse
from voltbridge.ocpi.v221.tokens import TokenType

VERSION = "2.2.1"

# The CPO side we implement, as (module, interface role).
ENDPOINTS: tuple[tuple[ModuleID, InterfaceRole], ...] = (
    (ModuleID.CREDENTIALS, InterfaceRole.SENDER),
    (ModuleID.CREDENTIALS, InterfaceRole.RECEIVER),
    (ModuleID.LOCATIONS, InterfaceRole.SENDER),
    (ModuleID.SESSIONS, InterfaceRole.SENDER),
    (ModuleID.CDRS, InterfaceRole.SENDER),
    (ModuleID.TARIFFS, InterfaceRole.SENDER),
    (ModuleID.TOKENS, InterfaceRole.RECEIVER),
    (ModuleID.COMMANDS, InterfaceRole.RECEIVER),
    (ModuleID.HUB_CLIENT_INFO, InterfaceRole.RECEIVER),
)

router = APIRouter()


@router.get("/versions")
async def versions(request: Request, who: Caller) -> JSONResponse:
    """Every version we speak and where its details are (token A is enough)."""
    base = service_of(request).base_url(request)
    return ok(request, [{"version": v, "url": f"{base}/{v}"} for v in service_of(request).options.versions])


@router.get(f"/{VERSION}")
async def version_details(request: Request, who: Caller) -> JSONResponse:
    base = service_of(request).base_url(request)
    endpoints = [
        {"identifier": str(module), "role": str(role), "url": f"{base}/{VERSION}/{module}"}
        for module, role in ENDPOINTS
    ]
    return ok(request, {"version": VERSION, "endpoints": endpoints})


# -- credentials --------------------------------------------------------------------------------


@router.get(f"/{VERSION}/credentials")
async def get_credentials(request: Request, who: Caller) -> JSONResponse:
    service = service_of(request)
    service.base_url(request)
    token = who.partner.token_a if who.with_token_a else who.partner.token_incoming
    return ok(request, service.registration.our_credentials(token or "", VERSION))


@router.post(f"/{VERSION}/credentials")
async def post_credentials(request: Request, who: Caller) -> JSONResponse:
    service = service_of(request)
    service.base_url(request)
    if not who.with_token_a:
        raise MethodNotAllowed("already registered: use PUT to update or DELETE to unregister")
    data = await service.registration.accept_registration(who.partner, await json_body(request), VERSION)
    return ok(request, data)


@router.put(f"/{VERSION}/credentials")
async def put_credentials(request: Request, who: Caller) -> JSONResponse:
    service = service_of(request)
    service.base_url(request)
    if who.with_token_a:
        raise MethodNotAllowed("not registered: POST credentials first")
    data = await service.registration.accept_update(who.partner, await json_body(request), VERSION)
    return ok(request, data)


@router.delete(f"/{VERSION}/credentials")
async def delete_credentials(request: Request, who: Caller) -> JSONResponse:
    if who.with_token_a:
        raise MethodNotAllowed("not registered")
    await service_of(request).registration.accept_unregister(who.partner)
    return ok(request, None)


# -- locations (Sender) -------------------------------------------------------------------------


@router.get(f"/{VERSION}/locations")
async def list_locations(request: Request, partner: Partner, page: Page) -> JSONResponse:
    locations = await service_of(request).locations.locations()
    items, total = window(locations, page, lambda loc: loc.last_updated)
    return paged(request, [loc.to_wire() for loc in items], total, page)


@router.get(f"/{VERSION}/locations/{{location_id}}")
async def get_location(request: Request, partner: Partner, location_id: str) -> JSONResponse:
    location = await _location(request, location_id)
    return ok(request, location.to_wire())


@router.get(f"/{VERSION}/locations/{{location_id}}/{{evse_uid}}")
async def get_evse(request: Request, partner: Partner, location_id: str, evse_uid: str) -> JSONResponse:
    location = await _location(request, location_id)
    for evse in location.evses:
        if ci_equal(evse.uid, evse_uid):
            return ok(request, evse.to_wire())
    raise ClientError(f"location {location_id} has no EVSE {evse_uid}", http_status=404)


@router.get(f"/{VERSION}/locations/{{location_id}}/{{evse_uid}}/{{connector_id}}")
async def get_connector(
    request: Request, partner: Partner, location_id: str, evse_uid: str, connector_id: str
) -> JSONResponse:
    location = await _location(request, location_id)
    for evse in location.evses:
        if ci_equal(evse.uid, evse_uid):
            for connector in evse.connectors:
                if ci_equal(connector.id, connector_id):
                    return ok(request, connector.to_wire())
    raise ClientError(f"location {location_id} has no connector {evse_uid}/{connector_id}", http_status=404)


async def _location(request: Request, location_id: str):  # type: ignore[no-untyped-def]
    location = await service_of(request).locations.location(location_id)
    if location is not None:
        return location
    raise ClientError(f"location {location_id} does not exist", http_status=404)


# -- tariffs (Sender) ---------------------------------------------------------------------------


@router.get(f"/{VERSION}/tariffs")
async def list_tariffs(request: Request, partner: Partner, page: Page) -> JSONResponse:
    tariffs = await service_of(request).tariff_objects()
    items, total = window(tariffs, page, lambda t: parse_datetime(t["last_updated"]))
    return paged(request, items, total, page)


# -- sessions (Sender) --------------------------------------------------------------------------


@router.get(f"/{VERSION}/sessions")
async def list_sessions(request: Request, partner: Partner, page: Page) -> JSONResponse:
    if page.date_from is None:
        raise InvalidParameters("date_from is required for GET sessions")
    sessions = await service_of(request).sessions.for_partner(partner)
    items, total = window(sessions, page, lambda s: parse_datetime(s["last_updated"]))
    return paged(request, items, total, page)


@router.put(f"/{VERSION}/sessions/{{session_id}}/charging_preferences")
async def put_charging_preferences(request: Request, partner: Partner, session_id: str) -> JSONResponse:
    try:
        ChargingPreferences.model_validate(await json_body(request))
    except ValidationError as exc:
        raise InvalidParameters(f"invalid ChargingPreferences: {exc}") from exc
    session = await service_of(request).sessions.get_for(partner, session_id)
    if session is None:
        raise ClientError(f"session {session_id} does not exist", http_status=404)
    # Smart charging (preferences) is not offered yet: EVSEs do not claim CHARGING_PREFERENCES_CAPABLE.
    return ok(request, ChargingPreferencesResponse.NOT_POSSIBLE.value)


# -- CDRs (Sender) ------------------------------------------------------------------------------


@router.get(f"/{VERSION}/cdrs")
async def list_cdrs(request: Request, partner: Partner, page: Page) -> JSONResponse:
    cdrs = await service_of(request).cdrs.for_partner(partner)
    items, total = window(cdrs, page, lambda c: parse_datetime(c["last_updated"]))
    return paged(request, items, total, page)


@router.get(f"/{VERSION}/cdrs/{{cdr_id}}")
async def get_cdr(request: Request, partner: Partner, cdr_id: str) -> JSONResponse:
    for cdr in await service_of(request).cdrs.for_partner(partner):
        if ci_equal(cdr["id"], cdr_id):
            return ok(request, cdr)
    raise ClientError(f"CDR {cdr_id} does not exist", http_status=404)


# -- tokens (Receiver) --------------------------------------------------------------------------

TypeParam = Annotated[TokenType, Query()]


@router.get(f"/{VERSION}/tokens/{{country_code}}/{{party_id}}/{{token_uid}}")
async def get_token(
    request: Request,
    partner: Partner,
    country_code: str,
    party_id: str,
    token_uid: str,
    type: TypeParam = TokenType.RFID,
) -> JSONResponse:
    token = await service_of(request).tokens.get(partner, country_code, party_id, token_uid, type)
    if token is None:
        raise UnknownToken(f"token {country_code}/{party_id}/{token_uid} ({type}) is unknown")
    return ok(request, token)


@router.put(f"/{VERSION}/tokens/{{country_code}}/{{party_id}}/{{token_uid}}")
async def put_token(
    request: Request,
    partner: Partner,
    country_code: str,
    party_id: str,
    token_uid: str,
    type: TypeParam = TokenType.RFID,
) -> JSONResponse:
    created = await service_of(request).tokens.put(
        partner, country_code, party_id, token_uid, type, await json_body(request)
    )
    return ok(request, None, http_status=201 if created else 200)


@router.patch(f"/{VERSION}/tokens/{{country_code}}/{{party_id}}/{{token_uid}}")
async def patch_token(
    request: Request,
    partner: Partner,
    country_code: str,
    party_id: str,
    token_uid: str,
    type: TypeParam = TokenType.RFID,
) -> JSONResponse:
    await service_of(request).tokens.patch(
        partner, country_code, party_id, token_uid, type, await json_body(request)
    )
    return ok(request, None)


# -- commands (Receiver) ------------------------------------------------------------------------


@router.post(f"/{VERSION}/commands/{{command}}")
async def post_command(request: Request, partner: Partner, command: str) -> JSONResponse:
    response = await service_of(request).commands.receive(partner, command, await json_body(request))
    return ok(request, response)


# -- hubclientinfo (Receiver) -------------------------------------------------------------------


@router.get(f"/{VERSION}/hubclientinfo/{{country_code}}/{{party_id}}")
async def get_client_info(
    request: Request, partner: Partner, country_code: str, party_id: str
) -> JSONResponse:
    info = await service_of(request).hub.get(partner, country_code, party_id)
    if info is None:
        raise ClientError(f"no ClientInfo for {country_code}/{party_id}", http_status=404)
    return ok(request, info)


@router.put(f"/{VERSION}/hubclientinfo/{{country_code}}/{{party_id}}")
async def put_client_info(
    request: Request, partner: Partner, country_code: str, party_id: str
) -> JSONResponse:
    created = await service_of(request).hub.put(partner, country_code, party_id, await json_body(request))
    return ok(request, None, http_status=201 if created else 200)


def routing_of(request: Request) -> tuple[object, object]:
    """The routing headers of a request (for modules that care who a hub forwards for)."""
    return routing_from(request.headers)

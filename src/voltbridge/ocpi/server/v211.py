"""The OCPI 2.1.1 routes, for a partner that has only that version: versions, credentials, locations."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from voltbridge.ocpi.errors import ClientError, MethodNotAllowed
from voltbridge.ocpi.server.common import Caller, Page, Partner, json_body, ok, paged, service_of, window
from voltbridge.ocpi.v211.convert import location_to_211

VERSION = "2.1.1"
MODULES = ("credentials", "locations")

router = APIRouter()


@router.get(f"/{VERSION}")
async def version_details(request: Request, who: Caller) -> JSONResponse:
    base = service_of(request).base_url(request)
    endpoints = [{"identifier": m, "url": f"{base}/{VERSION}/{m}"} for m in MODULES]
    return ok(request, {"version": VERSION, "endpoints": endpoints})


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
    return ok(
        request,
        await service.registration.accept_registration(who.partner, await json_body(request), VERSION),
    )


@router.put(f"/{VERSION}/credentials")
async def put_credentials(request: Request, who: Caller) -> JSONResponse:
    service = service_of(request)
    service.base_url(request)
    if who.with_token_a:
        raise MethodNotAllowed("not registered: POST credentials first")
    return ok(
        request, await service.registration.accept_update(who.partner, await json_body(request), VERSION)
    )


@router.delete(f"/{VERSION}/credentials")
async def delete_credentials(request: Request, who: Caller) -> JSONResponse:
    if who.with_token_a:
        raise MethodNotAllowed("not registered")
    await service_of(request).registration.accept_unregister(who.partner)
    return ok(request, None)


@router.get(f"/{VERSION}/locations")
async def list_locations(request: Request, partner: Partner, page: Page) -> JSONResponse:
    locations = await service_of(request).locations.locations()
    items, total = window(locations, page, lambda loc: loc.last_updated)
    return paged(request, [location_to_211(loc) for loc in items], total, page)


@router.get(f"/{VERSION}/locations/{{location_id}}")
async def get_location(request: Request, partner: Partner, location_id: str) -> JSONResponse:
    location = await service_of(request).locations.location(location_id)
    if location is not None:
        return ok(request, location_to_211(location))
    raise ClientError(f"location {location_id} does not exist", http_status=404)

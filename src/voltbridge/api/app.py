"""Builds the HTTP application: the v1 routers, health and metrics, OpenAPI and the error table."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from voltbridge import __version__
from voltbridge.api import commands, errors, ocpi_partners, stations, system, tokens, transactions, users
from voltbridge.api.areas import router as areas_router
from voltbridge.api.audit import router as audit_router
from voltbridge.api.billing_reports import router as billing_reports_router
from voltbridge.api.cdrs import router as cdrs_router
from voltbridge.api.deps import Services
from voltbridge.api.operators import router as operators_router
from voltbridge.api.reports import router as reports_router
from voltbridge.api.tariffs import router as tariffs_router
from voltbridge.api.upstreams import router as upstreams_router
from voltbridge.api.wire import ErrorBody

API_PREFIX = "/api/v1"

_COMMON_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "no bearer token, or one that names nobody"},
    403: {"model": ErrorBody, "description": "the token's user may not do this"},
    404: {"model": ErrorBody, "description": "no such thing (or outside the caller's scope)"},
    409: {"model": ErrorBody, "description": "contradicts the current state"},
    422: {"model": ErrorBody, "description": "invalid input"},
}


def create_api(services: Services) -> FastAPI:
    """The FastAPI application serving the REST API for these services."""
    api = FastAPI(
        title="voltbridge",
        version=__version__,
        description="The REST API of voltbridge, an open EV-charging backoffice.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    api.state.services = services
    v1 = APIRouter(prefix=API_PREFIX, responses=_COMMON_ERRORS)
    v1.include_router(stations.router)
    v1.include_router(commands.router)
    v1.include_router(tokens.router)
    v1.include_router(transactions.router)
    v1.include_router(users.router)
    v1.include_router(users.me_router)
    v1.include_router(operators_router)
    v1.include_router(areas_router)
    v1.include_router(billing_reports_router)  # before reports_router: its names are static routes
    v1.include_router(reports_router)
    v1.include_router(audit_router)
    v1.include_router(ocpi_partners.router)
    v1.include_router(upstreams_router)
    v1.include_router(tariffs_router)
    v1.include_router(cdrs_router)
    api.include_router(v1)
    api.include_router(system.router)
    errors.install(api)
    return api

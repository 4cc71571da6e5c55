"""The OCPI server: a FastAPI app to mount at /ocpi (see `create_ocpi_app`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.types import ASGIApp

from voltbridge.ocpi.server import v211, v221
from voltbridge.ocpi.server.common import TrailingSlashAndAudit, install_errors

if TYPE_CHECKING:
    from voltbridge.ocpi.service import OcpiService


def create_ocpi_app(service: OcpiService) -> ASGIApp:
    """The OCPI server of `service` as an ASGI app; mount it at /ocpi (URLs with or without a
    trailing slash are accepted, and every call is audited)."""
    app = FastAPI(
        title="voltbridge OCPI", openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False
    )
    app.state.ocpi = service
    install_errors(app)
    app.include_router(v221.router)
    app.include_router(v211.router)
    return TrailingSlashAndAudit(app, service)

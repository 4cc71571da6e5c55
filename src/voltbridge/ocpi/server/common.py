"""What every OCPI route shares: the answer envelope, who is calling, list pages, errors, the audit.

Errors are answered in one table (errors.from_domain): HTTP 401 for authentication, 404 for unknown
objects, 405 for registration-state mistakes, 400 for a body that is not JSON or has the wrong shape
(status 2001), and the OCPI code in the envelope every time.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voltbridge.core.errors import VoltbridgeError
from voltbridge.ocpi.audit import Exchange
from voltbridge.ocpi.errors import (
    INVALID_PARAMETERS,
    ClientError,
    InvalidParameters,
    OcpiError,
    Unauthorized,
    from_domain,
)
from voltbridge.ocpi.partners import REGISTERED, Authenticated
from voltbridge.ocpi.transport import (
    CORRELATION_ID,
    LIMIT,
    REQUEST_ID,
    TOTAL_COUNT,
    PageRequest,
    envelope,
    link_next,
    new_id,
)
from voltbridge.ocpi.types import parse_datetime
from voltbridge.store.models.ocpi import OcpiPartner

if TYPE_CHECKING:
    from voltbridge.ocpi.service import OcpiService

log = logging.getLogger(__name__)


def service_of(request: Request) -> OcpiService:
    """The OcpiService the app was built with."""
    service: OcpiService = request.app.state.ocpi
    return service


Service = Annotated["OcpiService", Depends(service_of)]


def ok(
    request: Request, data: Any, *, http_status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A success answer (1000) around `data`."""
    service = service_of(request)
    return JSONResponse(
        envelope(data, now=service.clock.now()), status_code=http_status, headers=_ids(request, headers)
    )


def _ids(request: Request, headers: dict[str, str] | None = None) -> dict[str, str]:
    out = dict(headers or {})
    out[REQUEST_ID] = request.headers.get(REQUEST_ID) or new_id()
    out[CORRELATION_ID] = request.headers.get(CORRELATION_ID) or new_id()
    return out


async def caller(request: Request) -> Authenticated:
    """Whoever the Authorization header names (token A included); 401 otherwise."""
    service = service_of(request)
    found = await service.registry.authenticate(request.headers.get("Authorization"))
    if found is None:
        raise Unauthorized("missing or unknown credentials token (send Authorization: Token <token>)")
    request.state.partner_id = found.partner.id
    return found


async def registered_partner(who: Annotated[Authenticated, Depends(caller)]) -> OcpiPartner:
    """A registered partner using its credentials token; token A and pending partners get 401."""
    if who.with_token_a:
        raise Unauthorized("token A may only be used for versions, version details and credentials")
    if who.partner.status != REGISTERED:
        raise Unauthorized(f"this partner is {who.partner.status}; functional modules need a registered one")
    return who.partner


Caller = Annotated[Authenticated, Depends(caller)]
Partner = Annotated[OcpiPartner, Depends(registered_partner)]


def _date(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise InvalidParameters(f"{name} {value!r} is not a DateTime") from exc


def page_request(
    request: Request,
    date_from: Annotated[str | None, Query()] = None,
    date_to: Annotated[str | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0)] = None,
) -> PageRequest:
    """The GET-list parameters; `limit` is capped at the server's page size (reported in X-Limit)."""
    cap = service_of(request).options.page_limit
    return PageRequest(
        date_from=_date(date_from, "date_from"),
        date_to=_date(date_to, "date_to"),
        offset=offset,
        limit=min(limit, cap) if limit else cap,
    )


Page = Annotated[PageRequest, Depends(page_request)]


def in_window(last_updated: datetime, page: PageRequest) -> bool:
    """date_from is inclusive, date_to exclusive, both on last_updated."""
    if page.date_from is not None and last_updated < page.date_from:
        return False
    return page.date_to is None or last_updated < page.date_to


def paged(request: Request, items: Sequence[Any], total: int, page: PageRequest) -> JSONResponse:
    """A page of an already filtered and sorted list, with Link, X-Total-Count and X-Limit."""
    headers = {TOTAL_COUNT: str(total), LIMIT: str(service_of(request).options.page_limit)}
    link = link_next(
        str(request.url.remove_query_params(["offset", "limit", "date_from", "date_to"])),
        page,
        total,
        len(items),
    )
    if link is not None:
        headers["Link"] = link
    return ok(request, list(items), headers=headers)


def window(
    items: Sequence[Any], page: PageRequest, updated: Callable[[Any], datetime]
) -> tuple[list[Any], int]:
    """Filter by the date window, then cut the page; returns (page, total matching)."""
    matching = [item for item in items if in_window(updated(item), page)]
    return matching[page.offset : page.offset + page.limit], len(matching)


async def json_body(request: Request) -> Any:
    """The request body as JSON; a body that is not JSON is HTTP 400."""
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError as exc:
        raise ClientError("the request body is not valid JSON", http_status=400) from exc


async def _ocpi_error(request: Request, exc: Exception) -> Response:
    error = from_domain(exc)
    if error.http_status >= 500:
        log.error("OCPI %s %s failed", request.method, request.url.path, exc_info=exc)
    request.state.ocpi_status = error.status_code
    service = service_of(request)
    return JSONResponse(
        envelope(None, status_code=error.status_code, message=error.message, now=service.clock.now()),
        status_code=error.http_status,
        headers=_ids(request),
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    service = service_of(request)
    request.state.ocpi_status = INVALID_PARAMETERS
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
    )
    return JSONResponse(
        envelope(
            None, status_code=INVALID_PARAMETERS, message=detail or "invalid request", now=service.clock.now()
        ),
        status_code=400,
        headers=_ids(request),
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    service = service_of(request)
    code = 2000 if exc.status_code < 500 else 3000
    return JSONResponse(
        envelope(None, status_code=code, message=str(exc.detail), now=service.clock.now()),
        status_code=exc.status_code,
        headers=_ids(request),
    )


def install_errors(app: FastAPI) -> None:
    """The OCPI error table on an app."""
    app.add_exception_handler(OcpiError, _ocpi_error)
    app.add_exception_handler(VoltbridgeError, _ocpi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _ocpi_error)


class TrailingSlashAndAudit:
    """ASGI wrapper: accepts URLs with a trailing slash (extrawest's default) and audits every call."""

    def __init__(self, app: ASGIApp, service: OcpiService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/"), raw_path=path.rstrip("/").encode())
        started = time.monotonic()
        status: list[int] = []
        body = bytearray()

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            elif message["type"] == "http.response.body" and len(body) < 4096:
                body.extend(message.get("body", b"")[:4096])
            await send(message)

        state: dict[str, Any] = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, tracked)
        finally:
            await self._audit(scope, state, status, bytes(body), started)

    async def _audit(
        self, scope: Scope, state: dict[str, Any], status: list[int], body: bytes, started: float
    ) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        ocpi_status = None
        try:
            ocpi_status = int(json.loads(body).get("status_code")) if body else None
        except (ValueError, AttributeError, TypeError):
            ocpi_status = None
        path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
        relative = path[len(root) :] if root and path.startswith(root) else path
        parts = [p for p in relative.split("/") if p]
        module = parts[1] if len(parts) > 1 else "versions"
        try:
            await self.service.audit.record(
                Exchange(
                    partner_id=state.get("partner_id"),
                    direction="in",
                    module=module,
                    method=str(scope.get("method", "")),
                    url=path,
                    request_id=headers.get(REQUEST_ID.lower()),
                    correlation_id=headers.get(CORRELATION_ID.lower()),
                    http_status=status[0] if status else None,
                    ocpi_status=ocpi_status,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    error=None
                    if status and status[0] < 400 and (ocpi_status or 1000) < 2000
                    else body[:500].decode(errors="replace"),
                )
            )
        except Exception:  # the audit must never break an answer
            log.exception("could not audit an incoming OCPI call")

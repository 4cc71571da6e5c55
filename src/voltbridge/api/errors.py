"""The API's one error table: domain errors to HTTP statuses, with `{"detail": "..."}` bodies.

Only our own errors (core/errors.py) get a specific status. Anything else that escapes a handler
is a bug: it is logged with its traceback and answered 500 with a generic text, so internals never
reach the wire (STYLE.md 12, 14).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voltbridge.api.deps import Unauthenticated
from voltbridge.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StationBusy,
    StationOffline,
    StationRejected,
    StationTimeout,
    VoltbridgeError,
)

log = logging.getLogger(__name__)

# Most specific class first: the first `isinstance` match decides.
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (Unauthenticated, 401),
    (NotFound, 404),
    (Conflict, 409),
    (Forbidden, 403),
    (InvalidInput, 422),
    (StationOffline, 409),  # the charger is not connected: the request conflicts with its state
    (StationTimeout, 504),
    (StationBusy, 503),
    (StationRejected, 502),  # the charger, our upstream here, answered with an error
)

INTERNAL_ERROR = "internal error; it has been logged"


def status_for(exc: Exception) -> int:
    """The HTTP status of an error (500 for one the table does not name)."""
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


async def _error(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    if status == 500:
        log.error("unmapped error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)
    body: dict[str, Any] = {"detail": str(exc)}
    headers: dict[str, str] = {}
    if isinstance(exc, StationRejected):
        body.update(error_code=exc.code, error_description=exc.description)
    if isinstance(exc, StationBusy):
        headers["Retry-After"] = "1"
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="voltbridge"'
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    # A body that is not JSON at all is malformed (400); JSON of the wrong shape is 422.
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse({"detail": "the request body is not valid JSON"}, status_code=400)
    return JSONResponse({"detail": describe(errors)}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def describe(errors: Sequence[Any]) -> str:
    """Pydantic's error list as one readable line: `body.connectorId: Field required; …`."""
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body" or len(error["loc"]) == 1)
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"


class CatchAll:
    """Answers 500 with a generic body for any exception a handler let escape, and logs it.

    Starlette's own last-resort handler re-raises after answering, which makes the server log the
    same error twice; this one stops it here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # too late for an error answer; the server closes the connection
            body = json.dumps({"detail": INTERNAL_ERROR}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def install(api: FastAPI) -> None:
    """Register the error table on the API."""
    api.add_exception_handler(VoltbridgeError, _error)
    api.add_exception_handler(Unauthenticated, _error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(HTTPException, _http_error)
    api.add_middleware(CatchAll)

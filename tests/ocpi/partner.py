"""A strict scripted OCPI partner (an eMSP, or a hub) for the tests: a real HTTP server on 127.0.0.1.

It checks what a careful partner checks on every request it receives: the Authorization header in
the configured encoding, X-Request-ID and X-Correlation-ID, routing headers on functional modules
(and none on versions/credentials), Content-Type on bodies, DateTimes in UTC with `Z` and at most 3
decimals. Violations are collected in `problems`; tests assert it stays empty.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from voltbridge.ocpi.v211.models import Location as Location211
from voltbridge.ocpi.v221.cdrs import Cdr
from voltbridge.ocpi.v221.commands import CommandResult
from voltbridge.ocpi.v221.locations import EVSE, Location
from voltbridge.ocpi.v221.sessions import Session
from voltbridge.ocpi.v221.tariffs import Tariff

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
DATETIME_KEYS = {
    "last_updated",
    "start_date_time",
    "end_date_time",
    "timestamp",
    "expiry_date",
    "period_begin",
    "period_end",
}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str]


@dataclass
class ScriptedPartner:
    """The partner's state and its scripted behaviour."""

    version: str = "2.2.1"
    encoding: str = "base64"  # how it expects and writes tokens: base64 | plain
    role: str = "EMSP"
    country_code: str = "DE"
    party_id: str = "EMS"
    token_a: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    issued: str | None = None  # the token it issued to us (token C), valid on its functional modules
    ours: str | None = None  # the token we issued to it (token B)
    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    locations: dict[str, Any] = field(default_factory=dict)
    sessions: dict[str, Any] = field(default_factory=dict)
    tariffs: dict[str, Any] = field(default_factory=dict)
    cdrs: dict[str, Any] = field(default_factory=dict)
    command_results: list[Any] = field(default_factory=list)
    authorize_answer: str | None = "ALLOWED"  # None: never answer (the CPO must stop waiting)
    fail_credentials_put: bool = False
    reject_cdrs: bool = False
    fail_pushes: int = 0  # answer this many pushes with HTTP 503 first
    unblock: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    # -- helpers for tests -------------------------------------------------------------------

    def auth(self, token: str) -> str:
        if self.encoding == "plain":
            return f"Token {token}"
        return "Token " + base64.b64encode(token.encode()).decode()

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds (checked whenever the partner receives something)."""
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(predicate)

    def calls(self, method: str, fragment: str) -> list[Received]:
        return [r for r in self.received if r.method == method and fragment in r.path]

    # -- checks ------------------------------------------------------------------------------

    def _check(self, request: Request, body: Any, *, functional: bool, token: str | None) -> bool:
        h = {k.lower(): v for k, v in request.headers.items()}
        where = f"{request.method} {request.url.path}"
        if token is not None and h.get("authorization") != self.auth(token):
            return False
        if self.version != "2.1.1":
            for name in ("x-request-id", "x-correlation-id"):
                if not h.get(name):
                    self.problems.append(f"{where}: missing {name}")
            routing = [n for n in h if n.startswith("ocpi-")]
            if functional:
                for name in ("ocpi-from-country-code", "ocpi-from-party-id"):
                    if name not in h:
                        self.problems.append(f"{where}: missing {name}")
                if self.role != "HUB" and (
                    h.get("ocpi-to-country-code") != self.country_code
                    or h.get("ocpi-to-party-id") != self.party_id
                ):
                    self.problems.append(f"{where}: routing headers do not name us: {routing}")
            elif routing:
                self.problems.append(f"{where}: routing headers on a non-functional module: {routing}")
        if request.method in ("POST", "PUT", "PATCH") and body is not None:
            if not h.get("content-type", "").startswith("application/json"):
                self.problems.append(f"{where}: Content-Type is {h.get('content-type')}")
            self._check_times(body, where)
        return True

    def _check_object(self, model: Any, body: Any, where: str) -> None:
        """Every object we receive must be a valid OCPI object with no field it does not define."""
        try:
            parsed = model.model_validate(body)
        except ValidationError as exc:
            self.problems.append(f"{where}: not a valid {model.__name__}: {exc}")
            return
        if _normal(parsed.to_wire()) != _normal(body):
            self.problems.append(f"{where}: {model.__name__} has fields OCPI does not define or wrong shapes")

    def _check_times(self, value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in DATETIME_KEYS and isinstance(item, str) and not DATETIME.match(item):
                    self.problems.append(f"{where}: {key}={item!r} is not UTC with Z and at most 3 decimals")
                self._check_times(item, where)
        elif isinstance(value, list):
            for item in value:
                self._check_times(item, where)

    def ok(self, data: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"status_code": 1000, "timestamp": _now()}
        if data is not None:
            body["data"] = data
        return JSONResponse(body, status_code=status, headers=headers)

    def error(self, code: int, message: str, status: int = 200) -> JSONResponse:
        return JSONResponse(
            {"status_code": code, "status_message": message, "timestamp": _now()}, status_code=status
        )

    # -- the app -----------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()
        v = self.version
        modules = ["credentials", "locations", "sessions", "cdrs", "tariffs", "tokens", "commands"]

        async def record(request: Request) -> Any:
            raw = await request.body()
            body = None
            if raw:
                import json

                body = json.loads(raw)
            self.received.append(
                Received(
                    request.method, request.url.path, dict(request.headers), body, dict(request.query_params)
                )
            )
            return body

        async def notify() -> None:
            async with self.changed:
                self.changed.notify_all()

        def authorised(request: Request, body: Any, *, functional: bool) -> bool:
            allowed = [t for t in (self.issued,) if t] + ([] if functional else [self.token_a])
            return any(self._check(request, body, functional=functional, token=t) for t in allowed)

        @app.get("/versions")
        async def versions(request: Request) -> JSONResponse:
            await record(request)
            if not authorised(request, None, functional=False):
                return self.error(2000, "unauthorized", 401)
            return self.ok([{"version": v, "url": f"{self.base_url}/{v}"}])

        @app.get(f"/{v}")
        async def details(request: Request) -> JSONResponse:
            await record(request)
            if not authorised(request, None, functional=False):
                return self.error(2000, "unauthorized", 401)
            if v == "2.1.1":
                endpoints = [
                    {"identifier": m, "url": f"{self.base_url}/{v}/{m}"} for m in ("credentials", "locations")
                ]
            else:
                endpoints = [
                    {
                        "identifier": m,
                        "role": "SENDER" if m == "tokens" else "RECEIVER",
                        "url": f"{self.base_url}/{v}/{m}",
                    }
                    for m in modules
                ]
            return self.ok({"version": v, "endpoints": endpoints})

        @app.api_route(f"/{v}/credentials", methods=["POST", "PUT", "DELETE", "GET"])
        async def credentials(request: Request) -> JSONResponse:
            body = await record(request)
            try:
                if not authorised(request, body, functional=False):
                    return self.error(2000, "unauthorized", 401)
                if request.method == "PUT" and self.fail_credentials_put:
                    return self.error(3000, "credentials update is broken today", 500)
                if request.method == "DELETE":
                    self.issued = None
                    return self.ok()
                if request.method in ("POST", "PUT"):
                    self.ours = body["token"]
                    # The partner calls our versions with the token we just gave it (token B).
                    import httpx

                    async with httpx.AsyncClient() as client:
                        answer = await client.get(
                            body["url"], headers={"Authorization": self.auth(self.ours)}
                        )
                        if answer.status_code != 200 or answer.json().get("status_code") != 1000:
                            return self.error(3001, f"cannot use your versions: {answer.status_code}")
                    self.issued = secrets.token_urlsafe(16)
                return self.ok(self._credentials(self.issued or ""))
            finally:
                await notify()

        async def store(request: Request, bucket: dict[str, Any], key: str) -> JSONResponse:
            body = await record(request)
            try:
                if not authorised(request, body, functional=True):
                    return self.error(2000, "unauthorized", 401)
                if self.fail_pushes > 0:
                    self.fail_pushes -= 1
                    return self.error(3000, "try again later", 503)
                if request.method == "PUT":
                    model = _MODELS.get((self.version, request.url.path.split("/")[2], key.count("/")))
                    if model is not None:
                        self._check_object(model, body, f"PUT {request.url.path}")
                    bucket[key] = body
                elif request.method == "PATCH":
                    if "last_updated" not in body:
                        self.problems.append(f"PATCH {request.url.path} without last_updated")
                    target = bucket.setdefault(key, {})
                    if "charging_periods" in body:
                        target.setdefault("charging_periods", []).extend(body.pop("charging_periods"))
                    target.update(body)
                elif request.method == "DELETE":
                    bucket.pop(key, None)
                return self.ok()
            finally:
                await notify()

        @app.api_route(f"/{v}/locations/{{cc}}/{{pid}}/{{rest:path}}", methods=["PUT", "PATCH"])
        async def locations(request: Request, cc: str, pid: str, rest: str) -> JSONResponse:
            return await store(request, self.locations, rest)

        @app.api_route(f"/{v}/sessions/{{cc}}/{{pid}}/{{sid}}", methods=["PUT", "PATCH"])
        async def sessions(request: Request, cc: str, pid: str, sid: str) -> JSONResponse:
            return await store(request, self.sessions, sid)

        @app.api_route(f"/{v}/tariffs/{{cc}}/{{pid}}/{{tid}}", methods=["PUT", "DELETE"])
        async def tariffs(request: Request, cc: str, pid: str, tid: str) -> JSONResponse:
            return await store(request, self.tariffs, tid)

        @app.post(f"/{v}/cdrs")
        async def cdrs(request: Request) -> JSONResponse:
            body = await record(request)
            try:
                if not authorised(request, body, functional=True):
                    return self.error(2000, "unauthorized", 401)
                if self.reject_cdrs:
                    return self.error(2001, "total_cost does not match our pricing", 400)
                self._check_object(Cdr, body, "POST cdrs")
                self.cdrs[body["id"]] = body
                return self.ok(status=201, headers={"Location": f"{self.base_url}/{v}/cdrs/{body['id']}"})
            finally:
                await notify()

        @app.post(f"/{v}/tokens/{{uid}}/authorize")
        async def authorize(request: Request, uid: str) -> JSONResponse:
            body = await record(request)
            if not authorised(request, body, functional=True):
                return self.error(2000, "unauthorized", 401)
            if self.authorize_answer is None:
                await self.unblock.wait()  # an eMSP that hangs
                return self.error(3000, "too late")
            token = {
                "country_code": self.country_code,
                "party_id": self.party_id,
                "uid": uid,
                "type": request.query_params.get("type", "RFID"),
                "contract_id": f"{self.country_code}-{self.party_id}-C{uid}",
                "issuer": "Scripted eMSP",
                "valid": True,
                "whitelist": "ALLOWED_OFFLINE",
                "last_updated": _now(),
            }
            return self.ok(
                {"allowed": self.authorize_answer, "token": token, "authorization_reference": "AUTHREF-1"}
            )

        @app.post(f"/{v}/commands/results/{{ref}}")
        async def command_result(request: Request, ref: str) -> JSONResponse:
            body = await record(request)
            try:
                if not authorised(request, body, functional=True):
                    return self.error(2000, "unauthorized", 401)
                self._check_object(CommandResult, body, "POST command result")
                self.command_results.append((ref, body))
                return self.ok()
            finally:
                await notify()

        return app

    def _credentials(self, token: str) -> dict[str, Any]:
        business = {"name": "Scripted eMSP"}
        if self.version == "2.1.1":
            return {
                "token": token,
                "url": f"{self.base_url}/versions",
                "business_details": business,
                "party_id": self.party_id,
                "country_code": self.country_code,
            }
        return {
            "token": token,
            "url": f"{self.base_url}/versions",
            "roles": [
                {
                    "role": self.role,
                    "business_details": business,
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                }
            ],
        }

    def token(
        self, uid: str, *, whitelist: str = "ALLOWED", valid: bool = True, type: str = "RFID"
    ) -> dict[str, Any]:
        """A Token object of this eMSP."""
        return {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "uid": uid,
            "type": type,
            "contract_id": f"{self.country_code}-{self.party_id}-C{uid}",
            "issuer": "Scripted eMSP",
            "valid": valid,
            "whitelist": whitelist,
            "last_updated": _now(),
        }


_MODELS: dict[tuple[str, str, int], Any] = {
    ("2.2.1", "locations", 0): Location,
    ("2.2.1", "locations", 1): EVSE,
    ("2.2.1", "sessions", 0): Session,
    ("2.2.1", "tariffs", 0): Tariff,
    ("2.1.1", "locations", 0): Location211,
}


def _normal(value: Any) -> Any:
    """JSON with numbers compared by value (1 == 1.0) and unset (null) fields dropped."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return float(value)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@asynccontextmanager
async def serve(partner: ScriptedPartner) -> AsyncIterator[ScriptedPartner]:
    """Run the partner on 127.0.0.1 (a free port) for the duration of the block."""
    server = uvicorn.Server(
        uvicorn.Config(partner.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                await task
            await asyncio.sleep(0.01)  # uvicorn has no startup event to await
    port = server.servers[0].sockets[0].getsockname()[1]
    partner.base_url = f"http://127.0.0.1:{port}"
    try:
        yield partner
    finally:
        partner.unblock.set()
        server.should_exit = True
        await task

# mypy: ignore-errors
"""An independent OCPI 2.2.1 eMSP for the tests: the PyPI package `extrawest-ocpi`, run in its own venv.

This file runs under that venv's Python (pydantic 1, FastAPI 0.101), never under ours. It builds the
library's application in the eMSP role with an in-memory CRUD, serves it on 127.0.0.1 and prints
`PORT <n>` once listening. The library is used as a library; everything here is our harness code.

Harness routes (outside /ocpi, no auth; loopback only):
- GET  /harness/store                  every object the eMSP stored, by module
- PUT  /harness/tokens/{uid}           add a Token to the eMSP (its Tokens Sender serves it)
- PUT  /harness/authorize/{answer}     what its authorize answers (ALLOWED, BLOCKED, ...)
- GET  /harness/details?url=...        our version details re-served with a trailing slash on every
                                       URL: the library's push builds `{base_url}{cc}/{pid}/{id}`
                                       and so needs the trailing slash its own URLs carry

Usage: python extrawest_emsp.py TOKEN_A COUNTRY PARTY
"""

from __future__ import annotations

import os
import secrets
import socket
import sys

TOKEN_A, COUNTRY, PARTY = sys.argv[1], sys.argv[2], sys.argv[3]

_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
_sock.bind(("127.0.0.1", 0))
PORT = _sock.getsockname()[1]
# The library reads its settings from the environment at import.
os.environ.update(
    PROTOCOL="http",
    OCPI_HOST=f"127.0.0.1:{PORT}",
    COUNTRY_CODE=COUNTRY,
    PARTY_ID=PARTY,
    ENVIRONMENT="production",
)

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import Request  # noqa: E402
from fastapi.encoders import jsonable_encoder  # noqa: E402
from py_ocpi import get_application  # noqa: E402
from py_ocpi.core.authentication.authenticator import Authenticator  # noqa: E402
from py_ocpi.core.crud import Crud  # noqa: E402
from py_ocpi.core.enums import Action, ModuleID, RoleEnum  # noqa: E402
from py_ocpi.modules.versions.enums import VersionNumber  # noqa: E402

STORE: dict[str, dict[str, object]] = {}  # module -> id (lower case: ids are CiStrings) -> object
TOKENS_C: list[str] = []
STATE = {"authorize": "ALLOWED", "ours": None}


def _key(module, obj_id) -> str:
    return str(module.value if hasattr(module, "value") else module)


class MemoryCrud(Crud):
    """Stores what the CPO sends, by module and id."""

    @classmethod
    async def get(cls, module, role, id, *args, **kwargs):
        return STORE.get(_key(module, id), {}).get(str(id).lower())

    @classmethod
    async def list(cls, module, role, filters, *args, **kwargs):
        items = list(STORE.get(_key(module, None), {}).values())
        offset, limit = filters.get("offset", 0), filters.get("limit", 50)
        page = items[offset : offset + limit]
        return page, len(items), offset + limit >= len(items)

    @classmethod
    async def create(cls, module, role, data, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            STATE["ours"] = data["credentials"]
            STORE.setdefault("credentials", {})["cpo"] = data
            token_c = secrets.token_urlsafe(16)
            TOKENS_C.append(token_c)
            return {
                "token": token_c,
                "url": f"http://127.0.0.1:{PORT}/ocpi/versions",
                "roles": [
                    {
                        "role": "EMSP",
                        "business_details": {"name": "extrawest eMSP"},
                        "party_id": PARTY,
                        "country_code": COUNTRY,
                    }
                ],
            }
        obj_id = data.get("id") or data.get("uid")
        STORE.setdefault(_key(module, obj_id), {})[str(obj_id).lower()] = data
        return data

    @classmethod
    async def update(cls, module, role, data, id, *args, **kwargs):
        STORE.setdefault(_key(module, id), {})[str(id).lower()] = data
        return data

    @classmethod
    async def delete(cls, module, role, id, *args, **kwargs):
        STORE.get(_key(module, id), {}).pop(str(id).lower(), None)

    @classmethod
    async def do(cls, module, role, action, *args, data=None, **kwargs):
        if action == Action.authorize_token:
            token = STORE.get("tokens", {}).get(data["token_uid"].lower())
            STORE.setdefault("authorizations", {})[data["token_uid"].lower()] = data
            return {
                "allowed": STATE["authorize"],
                "token": token,
                "authorization_reference": "EXTRAWEST-REF",
            }
        return None


class Tokens(Authenticator):
    @classmethod
    async def get_valid_token_c(cls):
        return TOKENS_C

    @classmethod
    async def get_valid_token_a(cls):
        return [TOKEN_A]


app = get_application(
    version_numbers=[VersionNumber.v_2_2_1],
    roles=[RoleEnum.emsp],
    crud=MemoryCrud,
    modules=[
        ModuleID.credentials_and_registration,
        ModuleID.locations,
        ModuleID.sessions,
        ModuleID.cdrs,
        ModuleID.tariffs,
        ModuleID.tokens,
        ModuleID.commands,
    ],
    authenticator=Tokens,
    http_push=True,
)


@app.get("/harness/store")
async def dump_store():
    return jsonable_encoder({"store": STORE, "tokens_c": TOKENS_C, "ours": STATE["ours"]})


@app.put("/harness/tokens/{uid}")
async def add_token(uid: str, request: Request):
    STORE.setdefault("tokens", {})[uid.lower()] = await request.json()
    return {"ok": True}


@app.put("/harness/authorize/{answer}")
async def set_answer(answer: str):
    STATE["authorize"] = answer
    return {"ok": True}


@app.get("/harness/details")
async def details(url: str, request: Request):
    async with httpx.AsyncClient() as client:
        answer = await client.get(url, headers={"Authorization": request.headers.get("authorization", "")})
    body = answer.json()
    for endpoint in body.get("data", {}).get("endpoints", []):
        endpoint["url"] = endpoint["url"].rstrip("/") + "/"
    return body


if __name__ == "__main__":
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    _sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    print(f"PORT {PORT}", flush=True)
    server.run(sockets=[_sock])

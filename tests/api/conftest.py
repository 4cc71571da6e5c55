"""Fixtures for the REST API tests: real HTTP clients against the running app of `tests/conftest.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, api_url
from voltbridge.app import App
from voltbridge.bus import Event

E = TypeVar("E", bound=Event)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """A client authenticated with the platform admin token, over real HTTP."""
    async with httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10) as c:
        yield c


@pytest.fixture
async def anonymous(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials."""
    async with httpx.AsyncClient(base_url=api_url(app), timeout=10) as c:
        yield c


async def user_client(client: httpx.AsyncClient, **user: object) -> httpx.AsyncClient:
    """A new user (created through the API) and a client carrying a fresh token of theirs; close it."""
    created = await client.post("/api/v1/users", json=user)
    assert created.status_code == 201, created.text
    issued = await client.post(f"/api/v1/users/{created.json()['id']}/tokens", json={"name": "test"})
    assert issued.status_code == 201, issued.text
    return httpx.AsyncClient(base_url=client.base_url, headers=bearer(issued.json()["token"]), timeout=10)


async def make_operator(app: App, code: str = "OP1") -> int:
    """An operator row for operator users to belong to (written to the store directly until the
    operators API exists)."""
    from voltbridge.store.models.operators import Operator

    now = app.clock.now()
    operator = Operator(code=code, name=f"Operator {code}", created_at=now, updated_at=now)
    async with app.db.transaction() as session:
        session.add(operator)
    return operator.id


def expect(app: App, event_type: type[E], **match: Any) -> asyncio.Future[E]:
    """A future for the next event of that type whose fields equal `match` (subscribe before acting)."""
    future: asyncio.Future[E] = asyncio.get_running_loop().create_future()

    async def handler(event: E) -> None:
        if not future.done() and all(getattr(event, k) == v for k, v in match.items()):
            future.set_result(event)

    app.bus.subscribe(event_type, handler, name=f"test-expect-{event_type.__name__}")
    return future

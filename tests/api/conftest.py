"""Fixtures for the REST API tests: real HTTP clients against the running app of `tests/conftest.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, api_url
from voltbridge.app import App


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

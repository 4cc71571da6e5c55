"""Fixtures for the OCPI tests: a running voltbridge and a scripted partner next to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, AppFactory, api_url
from tests.ocpi.partner import ScriptedPartner, serve
from voltbridge.app import App


@pytest.fixture
async def cpo(make_app: AppFactory) -> App:
    """A running voltbridge (OCPP, API and /ocpi on free ports)."""
    return await make_app()


@pytest.fixture
async def partner() -> AsyncIterator[ScriptedPartner]:
    """A strict 2.2.1 eMSP that writes tokens in Base64."""
    async with serve(ScriptedPartner()) as running:
        yield running


@pytest.fixture
async def api(cpo: App) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of the REST API."""
    async with httpx.AsyncClient(
        base_url=api_url(cpo), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=20
    ) as client:
        yield client


async def register(api: httpx.AsyncClient, partner: ScriptedPartner, **extra: Any) -> dict[str, Any]:
    """Register voltbridge with the scripted partner through the API (we are the credentials Sender)."""
    response = await api.post(
        "/api/v1/ocpi/partners",
        json={
            "name": "scripted",
            "versions_url": f"{partner.base_url}/versions",
            "token_a": partner.token_a,
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body

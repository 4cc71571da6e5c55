"""Fixtures for the OCPI tests: a running voltbridge and a scripted partner next to it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from tests.chargers import connected
from tests.conftest import ADMIN_TOKEN, AppFactory, api_url, ocpp_url
from tests.ocpi.partner import ScriptedPartner, serve
from voltbridge.app import App
from voltbridge.billing import Target
from voltbridge.core.errors import Conflict


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


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    """Wait for an async condition (polled; for state in the database)."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


@asynccontextmanager
async def charger(
    cpo: App, station_id: str, *, status: str = "Available", charger_class: Any = None
) -> AsyncIterator[Any]:
    """A registered station, connected as a real OCPP 1.6 charger, booted, connector 1 reported."""
    with contextlib.suppress(Conflict):  # a test may have registered (and placed) it already
        await cpo.stations.register(station_id)
    kwargs = {"charger_class": charger_class} if charger_class else {}
    async with connected(ocpp_url(cpo), station_id, **kwargs) as cp:
        await cp.boot()
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status=status))
        yield cp


def ocpi_client(cpo: App, token: str, *, encoding: str = "base64") -> httpx.AsyncClient:
    """A client of our /ocpi as a partner holding `token`."""
    value = token if encoding == "plain" else base64.b64encode(token.encode()).decode()
    return httpx.AsyncClient(
        base_url=f"{api_url(cpo)}/ocpi", headers={"Authorization": f"Token {value}"}, timeout=20
    )


EXAMPLES = Path(__file__).parents[3] / "shared" / "data" / "ocpi" / "spec-examples-2.2.1"


async def billing_tariff(cpo: App, example: str, *, station_id: str | None = None) -> str:
    """Store a spec example tariff in billing's catalog (assigned to `station_id` when given), push
    it to the partners, and return its OCPI id."""
    view = await cpo.billing.tariffs.create(json.loads((EXAMPLES / example).read_text()))
    if station_id is not None:
        with contextlib.suppress(Conflict):
            await cpo.stations.register(station_id)
        await cpo.billing.tariffs.assign(view.id, Target(station_id=station_id))
    await cpo.ocpi.publisher.push_tariff(view.ocpi_id)
    return view.ocpi_id

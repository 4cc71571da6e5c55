"""Two operators side by side, each with an area, a station and users, built through the real API.

HOTEL runs Amsterdam (Europe/Amsterdam), PARK runs New York (America/New_York); a third area has no
operator. Every client speaks real HTTP to the running app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, api_url
from voltbridge.app import App
from voltbridge.core.tokens.service import IdTagInfo
from voltbridge.core.transactions.service import StartRequest, StopRequest


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """The running app, an admin client, and per operator its ids and its users' clients."""

    app: App
    admin: httpx.AsyncClient
    hotel: dict[str, Any] = field(default_factory=dict)
    park: dict[str, Any] = field(default_factory=dict)
    hotel_area: dict[str, Any] = field(default_factory=dict)
    park_area: dict[str, Any] = field(default_factory=dict)
    loose_area: dict[str, Any] = field(default_factory=dict)
    hotel_user: httpx.AsyncClient | None = None
    hotel_reader: httpx.AsyncClient | None = None
    park_user: httpx.AsyncClient | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def as_hotel(self) -> httpx.AsyncClient:
        assert self.hotel_user is not None
        return self.hotel_user

    @property
    def as_hotel_reader(self) -> httpx.AsyncClient:
        assert self.hotel_reader is not None
        return self.hotel_reader

    @property
    def as_park(self) -> httpx.AsyncClient:
        assert self.park_user is not None
        return self.park_user

    async def client_for(
        self, email: str, *, operator_id: int | None, read_only: bool = False
    ) -> httpx.AsyncClient:
        """A new user of that operator (or an admin) and a client carrying its token."""
        role = "operator" if operator_id is not None else "admin"
        created = await self.admin.post(
            "/api/v1/users",
            json={"email": email, "role": role, "operator_id": operator_id, "read_only": read_only},
        )
        assert created.status_code == 201, created.text
        issued = await self.admin.post(f"/api/v1/users/{created.json()['id']}/tokens", json={"name": "test"})
        assert issued.status_code == 201, issued.text
        client = httpx.AsyncClient(
            base_url=self.admin.base_url, headers=bearer(issued.json()["token"]), timeout=10
        )
        self.clients.append(client)
        return client


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    """POST and check the status; the JSON answer."""
    response = await client.post(path, json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def world(app: App) -> AsyncIterator[World]:
    admin = httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10)
    w = World(app=app, admin=admin)
    w.hotel = await post(
        admin, "/api/v1/operators", {"code": "HOTEL", "name": "Hotel Group", "timezone": "Europe/Amsterdam"}
    )
    w.park = await post(
        admin, "/api/v1/operators", {"code": "PARK", "name": "Park & Co", "timezone": "America/New_York"}
    )
    w.hotel_area = await post(
        admin, "/api/v1/areas", {"code": "AMS-LOBBY", "name": "Lobby garage", "operator_id": w.hotel["id"]}
    )
    w.park_area = await post(
        admin, "/api/v1/areas", {"code": "NYC-P1", "name": "Level 1", "operator_id": w.park["id"]}
    )
    w.loose_area = await post(admin, "/api/v1/areas", {"code": "DEPOT", "name": "Depot"})
    for station, area in (("CP-H1", w.hotel_area), ("CP-P1", w.park_area), ("CP-X", w.loose_area)):
        await post(admin, "/api/v1/stations", {"id": station, "area_id": area["id"]})
    w.hotel_user = await w.client_for("desk@hotel.example", operator_id=w.hotel["id"])
    w.hotel_reader = await w.client_for("audit@hotel.example", operator_id=w.hotel["id"], read_only=True)
    w.park_user = await w.client_for("ops@park.example", operator_id=w.park["id"])
    yield w
    for client in w.clients:
        await client.aclose()
    await admin.aclose()


async def _accept() -> IdTagInfo:
    return IdTagInfo("Accepted")


async def charge(
    app: App,
    station_id: str,
    start: datetime,
    *,
    minutes: int,
    wh: int,
    id_tag: str = "CARD-1",
    connector: int = 1,
) -> int:
    """Record one completed session through the transaction service (as the OCPP handlers do)."""
    started = await app.transactions.start(
        StartRequest(station_id, connector, id_tag, 10_000, start), _accept
    )
    await app.transactions.stop(
        StopRequest(station_id, started.transaction.id, 10_000 + wh, start + timedelta(minutes=minutes))
    )
    return started.transaction.id

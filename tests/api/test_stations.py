"""/api/v1/stations: registration, live state from a real charger, changes, deletion, events."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from ocpp.v16 import call

from tests.api.charger import booted
from tests.api.conftest import expect
from tests.conftest import ocpp_url
from voltbridge.app import App
from voltbridge.core.events import StationDisconnected


async def test_registered_station_is_listed_offline_with_no_connectors(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/stations",
        json={"id": "CP1", "password": "s3cret-password", "ocpp_version": "ocpp1.6", "description": "lobby"},
    )
    assert created.status_code == 201, created.text
    station = created.json()
    assert station["id"] == "CP1"
    assert station["has_password"] is True
    assert "password" not in station and "password_hash" not in station
    assert station["connected"] is False
    assert station["status"] == "Offline"
    assert station["connectors"] == []
    assert station["registration_status"] == "Accepted"
    assert station["description"] == "lobby"
    assert station["vendor"] is None and station["last_seen_at"] is None
    assert station["created_at"].endswith("Z")
    assert (await client.get("/api/v1/stations/CP1")).json() == station


async def test_connected_station_shows_live_status_connectors_and_boot_data(
    app: App, client: httpx.AsyncClient
) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    gone = expect(app, StationDisconnected, station_id="CP1")
    async with booted(ocpp_url(app), "CP1") as charger:
        connected = (await client.get("/api/v1/stations/CP1")).json()
        assert connected["connected"] is True
        assert connected["status"] == "Unavailable"  # connector 0 has not reported yet
        await charger.call(call.StatusNotification(connector_id=0, error_code="NoError", status="Available"))
        await charger.call(
            call.StatusNotification(
                connector_id=1,
                error_code="GroundFailure",
                status="Faulted",
                info="ground fault",
                vendor_error_code="E42",
                timestamp="2025-03-01T10:00:00+01:00",
            )
        )
        station = (await client.get("/api/v1/stations/CP1")).json()
        assert station["status"] == "Available"
        assert station["vendor"] == "TestVendor" and station["model"] == "TestModel"
        assert station["ocpp_version"] == "ocpp1.6"
        assert station["last_seen_at"].endswith("Z") and station["booted_at"].endswith("Z")
        connectors = {c["connector_id"]: c for c in station["connectors"]}
        assert connectors[1] == {
            "connector_id": 1,
            "status": "Faulted",
            "error_code": "GroundFailure",
            "info": "ground fault",
            "vendor_id": None,
            "vendor_error_code": "E42",
            "status_at": "2025-03-01T09:00:00.000Z",
        }
        listed = (await client.get("/api/v1/stations")).json()
        assert listed["total"] == 1 and listed["items"][0] == station
    # The socket closed: the station is offline again, whatever connector 0 said last.
    await asyncio.wait_for(gone, 5)
    after = (await client.get("/api/v1/stations/CP1")).json()
    assert after["connected"] is False and after["status"] == "Offline"


async def test_station_events_show_the_status_history_newest_first(
    app: App, client: httpx.AsyncClient
) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    async with booted(ocpp_url(app), "CP1") as charger:
        for status in ("Preparing", "Charging"):
            await charger.call(call.StatusNotification(connector_id=1, error_code="NoError", status=status))
    events = (await client.get("/api/v1/stations/CP1/events", params={"kind": "status"})).json()
    assert events["total"] == 2
    assert [e["data"]["status"] for e in events["items"]] == ["Charging", "Preparing"]
    assert all(e["kind"] == "status" and e["at"].endswith("Z") for e in events["items"])
    page = (
        await client.get("/api/v1/stations/CP1/events", params={"kind": "status", "limit": 1, "offset": 1})
    ).json()
    assert page["total"] == 2 and [e["data"]["status"] for e in page["items"]] == ["Preparing"]
    assert (await client.get("/api/v1/stations/NOPE/events")).status_code == 404


async def test_list_is_paged_by_limit_and_offset(client: httpx.AsyncClient) -> None:
    for n in range(5):
        assert (await client.post("/api/v1/stations", json={"id": f"CP{n}"})).status_code == 201
    page = (await client.get("/api/v1/stations", params={"limit": 2, "offset": 2})).json()
    assert page["total"] == 5
    assert [s["id"] for s in page["items"]] == ["CP2", "CP3"]
    beyond = (await client.get("/api/v1/stations", params={"offset": 10})).json()
    assert beyond == {"items": [], "total": 5}
    for params in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"limit": "many"}):
        response = await client.get("/api/v1/stations", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"].startswith("query.")
    assert (await client.get("/api/v1/stations", params={"limit": 1000})).status_code == 200


async def test_patch_changes_only_the_fields_given(app: App, client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1", "description": "lobby"})
    changed = await client.patch(
        "/api/v1/stations/CP1", json={"lenient": True, "registration_status": "Pending"}
    )
    assert changed.status_code == 200
    assert changed.json()["lenient"] is True
    assert changed.json()["registration_status"] == "Pending"
    assert changed.json()["description"] == "lobby"
    cleared = (await client.patch("/api/v1/stations/CP1", json={"description": None})).json()
    assert cleared["description"] is None and cleared["lenient"] is True
    for body in (
        {"registration_status": "Maybe"},
        {"registration_status": None},
        {"lenient": None},
        {"colour": "red"},
    ):
        response = await client.patch("/api/v1/stations/CP1", json=body)
        assert response.status_code == 422, body
    assert (await client.patch("/api/v1/stations/NOPE", json={"lenient": True})).status_code == 404


async def test_a_password_set_through_the_api_is_required_at_the_handshake(
    app: App, client: httpx.AsyncClient
) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    patched = await client.patch("/api/v1/stations/CP1", json={"password": "correct-horse-battery"})
    assert patched.json()["has_password"] is True
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with booted(ocpp_url(app), "CP1"):
            pass
    assert refused.value.response.status_code == 401
    async with booted(ocpp_url(app), "CP1", password="correct-horse-battery"):
        assert (await client.get("/api/v1/stations/CP1")).json()["connected"] is True
    cleared = await client.patch("/api/v1/stations/CP1", json={"password": None})
    assert cleared.json()["has_password"] is False
    assert (await client.patch("/api/v1/stations/CP1", json={"password": "short"})).status_code == 422


async def test_create_refuses_duplicates_bad_ids_and_areas(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/stations", json={"id": "CP1"})).status_code == 201
    duplicate = await client.post("/api/v1/stations", json={"id": "CP1"})
    assert duplicate.status_code == 409
    assert duplicate.json() == {"detail": "station 'CP1' already exists"}
    for body in (
        {"id": "a/b"},
        {"id": ""},
        {"id": "x" * 65},
        {"id": "CP2", "ocpp_version": "ocpp9"},
        {"id": "CP2", "area_id": 3},
        {"id": "CP2", "password": "short"},
        {},
    ):
        response = await client.post("/api/v1/stations", json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], str)
    assert (await client.post("/api/v1/stations", json={"id": "CP2", "area_id": None})).status_code == 201


async def test_delete_removes_the_station(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    assert (await client.delete("/api/v1/stations/CP1")).status_code == 204
    assert (await client.get("/api/v1/stations/CP1")).status_code == 404
    assert (await client.delete("/api/v1/stations/CP1")).status_code == 404


async def test_a_station_with_recorded_sessions_cannot_be_deleted(
    app: App, client: httpx.AsyncClient
) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    await client.post("/api/v1/id-tokens", json={"uid": "TAG"})
    async with booted(ocpp_url(app), "CP1") as cp:
        await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG", meter_start=0, timestamp="2026-01-01T10:00:00Z"
            )
        )
    refused = await client.delete("/api/v1/stations/CP1")
    assert refused.status_code == 409 and "recorded session" in refused.json()["detail"]
    assert (await client.get("/api/v1/stations/CP1")).status_code == 200

"""Charging areas over the API: nesting without cycles, delete protection, stations' area and visibility."""

from __future__ import annotations

from tests.operators.conftest import World, post


async def test_an_area_keeps_its_address_coordinates_and_grid_limit(world: World) -> None:
    area = await post(
        world.admin,
        "/api/v1/areas",
        {
            "code": "AMS-ROOF",
            "name": "Roof deck",
            "operator_id": world.hotel["id"],
            "parent_id": world.hotel_area["id"],
            "timezone": "Europe/Amsterdam",
            "address": "Dam 1",
            "city": "Amsterdam",
            "zip": "1012 JS",
            "country": "NL",
            "latitude": "52.373056",
            "longitude": "4.892222",
            "grid_limit": "63",
            "grid_limit_unit": "A",
        },
    )
    shown = (await world.admin.get(f"/api/v1/areas/{area['id']}")).json()
    assert shown["latitude"] == "52.373056" and shown["longitude"] == "4.892222"
    assert shown["grid_limit"] == "63.00" and shown["grid_limit_unit"] == "A"
    assert shown["parent_id"] == world.hotel_area["id"]
    for bad in (
        {"grid_limit": "50"},
        {"grid_limit_unit": "kW"},
        {"latitude": "91", "longitude": "0"},
        {"latitude": "52"},
        {"timezone": "Mars/Olympus"},
        {"operator_id": 999},
    ):
        response = await world.admin.post("/api/v1/areas", json={"code": "BAD", "name": "Bad", **bad})
        assert response.status_code == 422, (bad, response.text)


async def test_areas_nest_but_never_in_a_cycle(world: World) -> None:
    top = world.hotel_area
    middle = await post(world.admin, "/api/v1/areas", {"code": "MID", "name": "Mid", "parent_id": top["id"]})
    leaf = await post(
        world.admin, "/api/v1/areas", {"code": "LEAF", "name": "Leaf", "parent_id": middle["id"]}
    )
    loop = await world.admin.patch(f"/api/v1/areas/{top['id']}", json={"parent_id": leaf["id"]})
    assert loop.status_code == 422 and "cycle" in loop.json()["detail"]
    itself = await world.admin.patch(f"/api/v1/areas/{top['id']}", json={"parent_id": top["id"]})
    assert itself.status_code == 422
    listed = (await world.admin.get("/api/v1/areas", params={"parent_id": middle["id"]})).json()
    assert [a["code"] for a in listed["items"]] == ["LEAF"]


async def test_an_area_holding_stations_or_sub_areas_cannot_be_deleted(world: World) -> None:
    refused = await world.admin.delete(f"/api/v1/areas/{world.hotel_area['id']}")
    assert refused.status_code == 409 and "CP-H1" in refused.json()["detail"]
    empty = await post(world.admin, "/api/v1/areas", {"code": "EMPTY", "name": "Empty"})
    assert (await world.admin.delete(f"/api/v1/areas/{empty['id']}")).status_code == 204


async def test_a_station_moves_between_areas_and_changes_visibility_with_patch(world: World) -> None:
    moved = await world.admin.patch(
        "/api/v1/stations/CP-X", json={"area_id": world.hotel_area["id"], "visible": False}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["area_id"] == world.hotel_area["id"] and moved.json()["visible"] is False
    seen = (await world.as_hotel.get("/api/v1/stations")).json()
    assert sorted(s["id"] for s in seen["items"]) == ["CP-H1", "CP-X"]
    unknown = await world.admin.patch("/api/v1/stations/CP-X", json={"area_id": 4242})
    assert unknown.status_code == 422
    log = (await world.admin.get("/api/v1/audit", params={"entity": "station", "entity_id": "CP-X"})).json()
    assert log["items"][0]["after"] == {"area_id": world.hotel_area["id"], "visible": False}


async def test_an_operator_user_places_its_own_stations_only_within_its_own_areas(world: World) -> None:
    second = await post(
        world.admin, "/api/v1/areas", {"code": "AMS-2", "name": "Annex", "operator_id": world.hotel["id"]}
    )
    ok = await world.as_hotel.patch(
        "/api/v1/stations/CP-H1", json={"area_id": second["id"], "visible": False}
    )
    assert ok.status_code == 200 and ok.json()["visible"] is False
    into_other = await world.as_hotel.patch("/api/v1/stations/CP-H1", json={"area_id": world.park_area["id"]})
    assert into_other.status_code == 422
    out_of_all = await world.as_hotel.patch("/api/v1/stations/CP-H1", json={"area_id": None})
    assert out_of_all.status_code == 403
    others = await world.as_hotel.patch("/api/v1/stations/CP-P1", json={"visible": False})
    assert others.status_code == 404


async def test_operator_users_see_their_own_areas_only(world: World) -> None:
    listed = (await world.as_park.get("/api/v1/areas")).json()
    assert [a["code"] for a in listed["items"]] == ["NYC-P1"]
    assert (await world.as_park.get(f"/api/v1/areas/{world.hotel_area['id']}")).status_code == 404
    assert (await world.as_park.get(f"/api/v1/areas/{world.loose_area['id']}")).status_code == 404
    assert (await world.as_park.post("/api/v1/areas", json={"code": "N", "name": "n"})).status_code == 403


async def test_an_operator_user_registers_stations_into_its_own_areas(world: World) -> None:
    missing = await world.as_hotel.post("/api/v1/stations", json={"id": "CP-H2"})
    assert missing.status_code == 422
    foreign = await world.as_hotel.post(
        "/api/v1/stations", json={"id": "CP-H2", "area_id": world.park_area["id"]}
    )
    assert foreign.status_code == 422
    mine = await world.as_hotel.post(
        "/api/v1/stations", json={"id": "CP-H2", "area_id": world.hotel_area["id"]}
    )
    assert mine.status_code == 201 and mine.json()["visible"] is True

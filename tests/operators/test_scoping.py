"""An operator's users see their own operator's things only, in every list, read, export and command."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.operators.conftest import World, charge, post


async def _sessions(world: World) -> dict[str, int]:
    start = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    return {
        "CP-H1": await charge(world.app, "CP-H1", start, minutes=60, wh=5_000, id_tag="HOTEL-CARD"),
        "CP-P1": await charge(world.app, "CP-P1", start, minutes=60, wh=7_000, id_tag="PARK-CARD"),
        "CP-X": await charge(world.app, "CP-X", start, minutes=60, wh=9_000, id_tag="LOOSE-CARD"),
    }


async def _ids(client: httpx.AsyncClient, path: str, key: str = "id", **params: str) -> list[object]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return sorted(item[key] for item in body["items"])


async def test_station_lists_and_reads_are_scoped(world: World) -> None:
    assert await _ids(world.as_hotel, "/api/v1/stations") == ["CP-H1"]
    assert await _ids(world.as_park, "/api/v1/stations") == ["CP-P1"]
    assert await _ids(world.admin, "/api/v1/stations") == ["CP-H1", "CP-P1", "CP-X"]
    for path in ("/api/v1/stations/CP-P1", "/api/v1/stations/CP-P1/events", "/api/v1/stations/CP-X"):
        response = await world.as_hotel.get(path)
        assert response.status_code == 404, path
        # Exactly as for a station that does not exist: nothing tells the two apart.
        missing = await world.as_hotel.get(path.replace("CP-P1", "NOPE").replace("CP-X", "NOPE"))
        assert (
            response.json()["detail"].replace("CP-P1", "NOPE").replace("CP-X", "NOPE")
            == missing.json()["detail"]
        )
    assert (await world.as_hotel.delete("/api/v1/stations/CP-P1")).status_code == 404
    assert (
        await world.as_hotel.patch("/api/v1/stations/CP-P1", json={"description": "x"})
    ).status_code == 404


async def test_transaction_lists_reads_and_meter_values_are_scoped(world: World) -> None:
    sessions = await _sessions(world)
    assert await _ids(world.as_hotel, "/api/v1/transactions") == [sessions["CP-H1"]]
    assert await _ids(world.as_park, "/api/v1/transactions", status="completed") == [sessions["CP-P1"]]
    assert await _ids(world.as_hotel, "/api/v1/transactions", station_id="CP-P1") == []
    assert len(await _ids(world.admin, "/api/v1/transactions")) == 3
    for tx in (sessions["CP-P1"], sessions["CP-X"]):
        assert (await world.as_hotel.get(f"/api/v1/transactions/{tx}")).status_code == 404
        assert (await world.as_hotel.get(f"/api/v1/transactions/{tx}/meter-values")).status_code == 404
    assert (await world.as_hotel.get(f"/api/v1/transactions/{sessions['CP-H1']}")).status_code == 200


async def test_id_token_lists_and_reads_show_the_private_network_only(world: World) -> None:
    for uid in ("HOTEL-CARD", "PARK-CARD", "STRAY-CARD"):
        await post(world.admin, "/api/v1/id-tokens", {"uid": uid})
    await post(world.admin, f"/api/v1/operators/{world.hotel['id']}/members", {"id_token": "HOTEL-CARD"})
    await post(world.admin, f"/api/v1/operators/{world.park['id']}/members", {"id_token": "PARK-CARD"})
    assert await _ids(world.as_hotel, "/api/v1/id-tokens", key="uid") == ["HOTEL-CARD"]
    assert await _ids(world.as_hotel, "/api/v1/id-tokens", key="uid", search="CARD") == ["HOTEL-CARD"]
    assert len(await _ids(world.admin, "/api/v1/id-tokens", key="uid")) == 3
    for uid in ("PARK-CARD", "STRAY-CARD"):
        assert (await world.as_hotel.get(f"/api/v1/id-tokens/{uid}")).status_code == 404
        assert (
            await world.as_hotel.patch(f"/api/v1/id-tokens/{uid}", json={"status": "Blocked"})
        ).status_code == 404
        assert (await world.as_hotel.delete(f"/api/v1/id-tokens/{uid}")).status_code == 404
    # A card an operator user creates joins its own network, so it stays in sight.
    created = await world.as_hotel.post("/api/v1/id-tokens", json={"uid": "HOTEL-NEW"})
    assert created.status_code == 201
    assert await _ids(world.as_hotel, "/api/v1/id-tokens", key="uid") == ["HOTEL-CARD", "HOTEL-NEW"]
    assert await _ids(world.as_park, "/api/v1/id-tokens", key="uid") == ["PARK-CARD"]


async def test_command_endpoints_answer_404_for_another_operators_station(world: World) -> None:
    reset = await world.as_hotel.post("/api/v1/stations/CP-P1/commands/Reset", json={"type": "Soft"})
    assert reset.status_code == 404
    own = await world.as_hotel.post("/api/v1/stations/CP-H1/commands/Reset", json={"type": "Soft"})
    assert own.status_code == 409  # its own station is simply not connected
    assert (await world.as_hotel.get("/api/v1/stations/CP-P1/commands")).status_code == 404
    assert (await world.as_hotel.get("/api/v1/commands", params={"station_id": "CP-P1"})).status_code == 404
    assert (await world.as_hotel.get("/api/v1/commands", params={"station_id": "CP-H1"})).status_code == 200
    own_log = (await world.as_hotel.get("/api/v1/commands")).json()
    assert [e["station_id"] for e in own_log["items"]] == ["CP-H1"]
    assert (await world.as_park.get("/api/v1/commands")).json() == {"items": [], "total": 0}
    log = (await world.admin.get("/api/v1/commands")).json()
    assert [e["station_id"] for e in log["items"]] == ["CP-H1"]  # the refused command was never sent


async def test_report_lists_and_csv_exports_are_scoped(world: World) -> None:
    await _sessions(world)
    params = {"from": "2025-06-01", "to": "2025-06-02", "per": "station"}
    hotel = (await world.as_hotel.get("/api/v1/reports/consumption", params=params)).json()
    assert [(r["station_id"], r["energy_wh"]) for r in hotel["items"]] == [("CP-H1", 5_000)]
    csv = await world.as_park.get("/api/v1/reports/consumption", params={**params, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "CP-P1" in csv.text and "CP-H1" not in csv.text and "CP-X" not in csv.text
    other = await world.as_hotel.get(
        "/api/v1/reports/consumption", params={**params, "operator_id": world.park["id"]}
    )
    assert other.status_code == 404
    for scoped in ({"station_id": "CP-P1"}, {"area_id": world.park_area["id"]}):
        response = await world.as_hotel.get("/api/v1/reports/revenue", params={**params, **scoped})
        assert response.status_code == 404, scoped
    admin = (await world.admin.get("/api/v1/reports/consumption", params=params)).json()
    assert sorted(r["station_id"] for r in admin["items"]) == ["CP-H1", "CP-P1", "CP-X"]


async def test_private_network_members_and_drivers_are_scoped(world: World) -> None:
    await post(world.admin, "/api/v1/id-tokens", {"uid": "GUEST-1"})
    await post(
        world.admin,
        "/api/v1/drivers",
        {"name": "Ada Guest", "email": "ada@example.com", "id_tokens": ["GUEST-1"]},
    )
    hotel_members = f"/api/v1/operators/{world.hotel['id']}/members"
    park_members = f"/api/v1/operators/{world.park['id']}/members"
    assert (await world.as_hotel.post(hotel_members, json={"id_token": "GUEST-1"})).status_code == 201
    assert (await world.as_hotel.post(park_members, json={"id_token": "GUEST-1"})).status_code == 404
    assert (await world.as_hotel.get(park_members)).status_code == 404
    assert await _ids(world.as_hotel, "/api/v1/drivers", key="name") == ["Ada Guest"]
    assert await _ids(world.as_park, "/api/v1/drivers", key="name") == []
    assert (
        await world.as_park.get(f"/api/v1/operators/{world.park['id']}/candidates", params={"search": "ada"})
    ).json()["items"][0]["members"] == 0

"""Private networks, through a real OCPP 1.6 charger: an invisible station serves its operator's members only."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from ocpp.v16 import call

from tests.chargers import TestCharger, connected
from tests.conftest import ocpp_url
from tests.operators.conftest import World, post


async def _authorize(charger: TestCharger, id_tag: str) -> str:
    answer = await charger.call(call.Authorize(id_tag=id_tag))
    status: str = answer.id_tag_info["status"]
    return status


async def _cards(world: World) -> None:
    for uid, group in (("MEMBER", None), ("STRANGER", None), ("STAFF-1", "STAFF"), ("PARK-MEMBER", None)):
        await post(
            world.admin, "/api/v1/id-tokens", {"uid": uid, "group_id": group, "max_concurrent_tx": None}
        )
    await post(world.admin, f"/api/v1/operators/{world.hotel['id']}/members", {"id_token": "MEMBER"})
    await post(world.admin, f"/api/v1/operators/{world.park['id']}/members", {"id_token": "PARK-MEMBER"})


async def test_a_visible_station_accepts_every_valid_token(world: World) -> None:
    await _cards(world)
    async with connected(ocpp_url(world.app), "CP-H1") as charger:
        await charger.boot()
        assert await _authorize(charger, "STRANGER") == "Accepted"
        assert await _authorize(charger, "MEMBER") == "Accepted"
        assert await _authorize(charger, "UNKNOWN") == "Invalid"


async def test_an_invisible_station_accepts_members_and_refuses_others_with_a_reason(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await _cards(world)
    hidden = await world.as_hotel.patch("/api/v1/stations/CP-H1", json={"visible": False})
    assert hidden.status_code == 200 and hidden.json()["visible"] is False
    caplog.set_level(logging.INFO, logger="voltbridge.core.authorization")
    async with connected(ocpp_url(world.app), "CP-H1") as charger:
        await charger.boot()
        assert await _authorize(charger, "MEMBER") == "Accepted"
        assert await _authorize(charger, "STRANGER") == "Invalid"
        assert await _authorize(charger, "PARK-MEMBER") == "Invalid"  # another operator's member
        started = await charger.call(
            call.StartTransaction(
                connector_id=1, id_tag="STRANGER", meter_start=0, timestamp=datetime.now(UTC).isoformat()
            )
        )
        assert started.id_tag_info["status"] == "Invalid"
    reason = "station 'CP-H1' is private to operator 'HOTEL' and id token 'STRANGER' is not a member"
    assert any(reason in r.getMessage() for r in caplog.records)
    events = await world.as_hotel.get(
        "/api/v1/stations/CP-H1/events", params={"kind": "private_network_refused"}
    )
    refused = [e["data"] for e in events.json()["items"]]
    assert {"id_tag": "STRANGER", "reason": refused[0]["reason"]} in refused
    assert any(reason in e["reason"] for e in refused)


async def test_tokens_of_groups_the_operator_allows_are_accepted_on_its_invisible_stations(
    world: World,
) -> None:
    await _cards(world)
    await world.admin.patch("/api/v1/stations/CP-H1", json={"visible": False})
    async with connected(ocpp_url(world.app), "CP-H1") as charger:
        await charger.boot()
        assert await _authorize(charger, "STAFF-1") == "Invalid"
        allowed = await world.admin.patch(
            f"/api/v1/operators/{world.hotel['id']}", json={"private_network_groups": ["STAFF"]}
        )
        assert allowed.status_code == 200
        assert await _authorize(charger, "STAFF-1") == "Accepted"


async def test_revoking_a_membership_takes_effect_at_the_next_authorization(world: World) -> None:
    await _cards(world)
    await world.admin.patch("/api/v1/stations/CP-H1", json={"visible": False})
    members = f"/api/v1/operators/{world.hotel['id']}/members"
    async with connected(ocpp_url(world.app), "CP-H1") as charger:
        await charger.boot()
        assert await _authorize(charger, "MEMBER") == "Accepted"
        assert (await world.as_hotel.delete(f"{members}/MEMBER")).status_code == 204
        assert await _authorize(charger, "MEMBER") == "Invalid"
        assert (await world.as_hotel.delete(f"{members}/MEMBER")).status_code == 404
        regranted = await world.as_hotel.post(members, json={"id_token": "MEMBER"})
        assert regranted.status_code == 201
        assert await _authorize(charger, "MEMBER") == "Accepted"
    entity_id = f"{world.hotel['id']}:MEMBER"
    log = (
        await world.admin.get("/api/v1/audit", params={"entity": "membership", "entity_id": entity_id})
    ).json()
    assert [(e["action"], e["actor"]) for e in log["items"]] == [
        ("grant", "desk@hotel.example"),
        ("revoke", "desk@hotel.example"),
        ("grant", "admin-token"),
    ]


async def test_an_invisible_station_without_an_operator_has_no_network_to_keep(world: World) -> None:
    await _cards(world)
    await world.admin.patch("/api/v1/stations/CP-X", json={"visible": False})
    async with connected(ocpp_url(world.app), "CP-X") as charger:
        await charger.boot()
        assert await _authorize(charger, "STRANGER") == "Accepted"


async def test_members_are_listed_and_searched_with_their_drivers(world: World) -> None:
    await _cards(world)
    await post(world.admin, "/api/v1/id-tokens", {"uid": "ADA-2"})
    driver = await post(
        world.admin,
        "/api/v1/drivers",
        {"name": "Ada Lovelace", "email": "ada@example.com", "id_tokens": ["STRANGER", "ADA-2"]},
    )
    candidates = await world.as_hotel.get(
        f"/api/v1/operators/{world.hotel['id']}/candidates", params={"search": "love"}
    )
    assert [(c["driver_id"], c["id_tokens"], c["members"]) for c in candidates.json()["items"]] == [
        (driver["id"], 2, 0)
    ]
    too_short = await world.as_hotel.get(
        f"/api/v1/operators/{world.hotel['id']}/candidates", params={"search": "a"}
    )
    assert too_short.status_code == 422
    granted = await post(
        world.as_hotel, f"/api/v1/operators/{world.hotel['id']}/members", {"driver_id": driver["id"]}
    )
    assert sorted(m["id_token"] for m in granted["items"]) == ["ADA-2", "STRANGER"]
    again = await post(
        world.as_hotel, f"/api/v1/operators/{world.hotel['id']}/members", {"id_token": "ADA-2"}
    )
    assert again["total"] == 1  # admitting a member again changes nothing
    found = await world.as_hotel.get(
        f"/api/v1/operators/{world.hotel['id']}/members", params={"search": "lovelace"}
    )
    assert sorted(m["id_token"] for m in found.json()["items"]) == ["ADA-2", "STRANGER"]
    assert found.json()["items"][0]["driver_name"] == "Ada Lovelace"
    everyone = (await world.as_hotel.get(f"/api/v1/operators/{world.hotel['id']}/members")).json()
    assert everyone["total"] == 3 and {m["id_token"] for m in everyone["items"]} == {
        "ADA-2",
        "MEMBER",
        "STRANGER",
    }

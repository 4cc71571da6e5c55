"""Operators over the API: immutable code, delete protection, settings, security key, audit."""

from __future__ import annotations

from tests.operators.conftest import World, post


async def test_an_operator_is_created_with_its_settings_and_a_security_key_shown_once(world: World) -> None:
    body = {
        "code": "CAFE",
        "name": "Café Chain",
        "organisation_name": "Café Chain B.V.",
        "address": "Dam 1",
        "phone": "+31 20 000 0000",
        "country": "NL",
        "city": "Amsterdam",
        "zip": "1012 JS",
        "timezone": "Europe/Amsterdam",
        "rating_min_duration_s": 120,
        "rating_min_energy_wh": 200,
        "rating_rate_idle": True,
        "idle_after_minutes": 15,
        "idle_stop_tracking_after_minutes": 240,
        "energy_step_delta_wh": 50_000,
        "session_limit": {"amount": "25.00", "currency": "EUR"},
        "private_network_groups": ["STAFF"],
    }
    created = await post(world.admin, "/api/v1/operators", body)
    key = created.pop("security_key")
    assert key.startswith("opk_") and created["security_key_prefix"] == key[:10]
    for name, value in body.items():
        assert created[name] == value, name
    shown = (await world.admin.get(f"/api/v1/operators/{created['id']}")).json()
    assert "security_key" not in shown
    assert shown["session_limit"] == {"amount": "25.00", "currency": "EUR"}
    settings = await world.app.operators.check_security_key("CAFE", key)
    assert settings is not None and settings.id == created["id"]


async def test_the_code_of_an_operator_never_changes(world: World) -> None:
    url = f"/api/v1/operators/{world.hotel['id']}"
    changed = await world.admin.patch(url, json={"code": "HOTEL2", "name": "Renamed"})
    assert changed.status_code == 409
    assert "cannot change" in changed.json()["detail"] and "'HOTEL'" in changed.json()["detail"]
    assert (await world.admin.get(url)).json()["name"] == "Hotel Group"  # nothing of the request applied
    same = await world.admin.patch(url, json={"code": "HOTEL", "name": "Renamed"})
    assert same.status_code == 200 and same.json()["code"] == "HOTEL" and same.json()["name"] == "Renamed"


async def test_operator_codes_are_unique_regardless_of_case(world: World) -> None:
    again = await world.admin.post("/api/v1/operators", json={"code": "hotel", "name": "Other"})
    assert again.status_code == 409 and "already taken" in again.json()["detail"]


async def test_an_invalid_time_zone_or_setting_is_refused_with_422(world: World) -> None:
    for body in (
        {"code": "X1", "name": "x", "timezone": "Europe/Atlantis"},
        {"code": "X2", "name": "x", "timezone": "CEST"},
        {"code": "X3", "name": "x", "session_limit": {"amount": "0", "currency": "EUR"}},
        {"code": "X4", "name": "x", "session_limit": {"amount": "1.5", "currency": "euro"}},
        {"code": "X 5", "name": "x"},
        {"code": "X6", "name": "x", "energy_step_delta_wh": -1},
    ):
        response = await world.admin.post("/api/v1/operators", json=body)
        assert response.status_code == 422, (body, response.text)
    patched = await world.admin.patch(f"/api/v1/operators/{world.hotel['id']}", json={"timezone": None})
    assert patched.status_code == 422


async def test_a_referenced_operator_cannot_be_deleted_and_the_answer_names_the_references(
    world: World,
) -> None:
    url = f"/api/v1/operators/{world.hotel['id']}"
    refused = await world.admin.delete(url)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "AMS-LOBBY" in detail and "desk@hotel.example" in detail, detail
    unreferenced = await post(world.admin, "/api/v1/operators", {"code": "EMPTY", "name": "Nobody"})
    assert (await world.admin.delete(f"/api/v1/operators/{unreferenced['id']}")).status_code == 204
    assert (await world.admin.get(f"/api/v1/operators/{unreferenced['id']}")).status_code == 404


async def test_the_security_key_rotates_and_the_old_one_stops_working(world: World) -> None:
    created = await post(world.admin, "/api/v1/operators", {"code": "KEYS", "name": "Keys"})
    old = created["security_key"]
    rotated = await world.admin.post(f"/api/v1/operators/{created['id']}/security-key")
    assert rotated.status_code == 200
    new = rotated.json()["security_key"]
    assert new != old
    assert await world.app.operators.check_security_key("KEYS", old) is None
    assert await world.app.operators.check_security_key("KEYS", new) is not None
    assert (
        await world.as_hotel.post(f"/api/v1/operators/{world.hotel['id']}/security-key")
    ).status_code == 403


async def test_operator_users_read_only_their_operator_and_may_not_change_it(world: World) -> None:
    listed = (await world.as_hotel.get("/api/v1/operators")).json()
    assert [o["code"] for o in listed["items"]] == ["HOTEL"] and listed["total"] == 1
    assert (await world.as_hotel.get(f"/api/v1/operators/{world.park['id']}")).status_code == 404
    assert (
        await world.as_hotel.patch(f"/api/v1/operators/{world.park['id']}", json={"name": "x"})
    ).status_code == 404
    assert (
        await world.as_hotel.patch(f"/api/v1/operators/{world.hotel['id']}", json={"name": "x"})
    ).status_code == 403
    assert (await world.as_hotel.delete(f"/api/v1/operators/{world.park['id']}")).status_code == 404
    assert (
        await world.as_hotel.post("/api/v1/operators", json={"code": "MINE", "name": "x"})
    ).status_code == 403


async def test_the_monetary_session_limit_is_exposed_per_station_for_the_tariffs(world: World) -> None:
    await world.admin.patch(
        f"/api/v1/operators/{world.hotel['id']}",
        json={"session_limit": {"amount": "30.00", "currency": "EUR"}},
    )
    settings = await world.app.operators.settings_for_station("CP-H1")
    assert settings is not None and settings.operator_code == "HOTEL"
    assert settings.session_limit is not None and str(settings.session_limit.amount) == "30.00"
    assert settings.timezone == "Europe/Amsterdam"
    assert await world.app.operators.settings_for_station("CP-X") is None


async def test_commission_terms_are_set_by_admins_and_read_by_the_operator(world: World) -> None:
    url = f"/api/v1/operators/{world.hotel['id']}/commission"
    assert (await world.as_hotel.get(url)).status_code == 404  # none yet
    terms = {
        "currency": "EUR",
        "price_per_kwh": "0.30",
        "price_per_session": "1.00",
        "operator_share_percent": "70",
    }
    assert (await world.as_hotel.put(url, json=terms)).status_code == 403
    saved = await world.admin.put(url, json=terms)
    assert saved.status_code == 200, saved.text
    read = (await world.as_hotel.get(url)).json()
    assert read["price_per_kwh"] == "0.3000" and read["operator_share_percent"] == "70.00"
    assert (await world.as_park.get(url)).status_code == 404
    bad = await world.admin.put(url, json={**terms, "operator_share_percent": "101"})
    assert bad.status_code == 422


async def test_every_change_is_in_the_audit_log_with_who_and_what_changed(world: World) -> None:
    await world.admin.patch(
        f"/api/v1/operators/{world.hotel['id']}", json={"name": "Hotel Group NL", "city": "Delft"}
    )
    log = await world.admin.get(
        "/api/v1/audit", params={"entity": "operator", "entity_id": str(world.hotel["id"])}
    )
    assert log.status_code == 200
    update, create = log.json()["items"][:2]
    assert update["action"] == "update" and update["actor"] == "admin-token"
    assert update["before"] == {"name": "Hotel Group", "city": None}
    assert update["after"] == {"name": "Hotel Group NL", "city": "Delft"}
    assert create["action"] == "create" and create["after"]["code"] == "HOTEL"
    kinds = {
        (e["entity"], e["action"])
        for e in (await world.admin.get("/api/v1/audit?limit=1000")).json()["items"]
    }
    assert {("area", "create"), ("user", "create"), ("user", "issue_token")} <= kinds
    assert (await world.as_hotel.get("/api/v1/audit")).status_code == 403


async def test_read_only_operator_users_may_read_but_not_write(world: World) -> None:
    assert (await world.as_hotel_reader.get(f"/api/v1/operators/{world.hotel['id']}")).status_code == 200
    members = f"/api/v1/operators/{world.hotel['id']}/members"
    assert (await world.as_hotel_reader.post(members, json={"id_token": "X"})).status_code == 403
    assert (
        await world.as_hotel_reader.patch("/api/v1/stations/CP-H1", json={"visible": False})
    ).status_code == 403

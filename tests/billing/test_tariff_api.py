"""/api/v1/tariffs and /api/v1/tariff-assignments over real HTTP: the OCPI shape, versions, which tariff
applies (most specific wins, driver groups), scoping, and the snapshot a running session keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import bearer, user_client
from tests.billing.billing_helpers import (
    BillingCharger,
    expect,
    make_site,
    make_tariff,
    make_token,
    meter,
    register,
    settled,
    start,
    stop,
)
from tests.chargers import connected
from tests.conftest import ADMIN_TOKEN, api_url, ocpp_url
from voltbridge.app import App
from voltbridge.billing import CdrCreated


def energy(price: float, tariff_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": price, "vat": 21, "step_size": 1}]}],
    }
    if tariff_id is not None:
        body["id"] = tariff_id
    return body


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10) as c:
        yield c


async def test_a_tariff_in_the_ocpi_shape_is_stored_versioned_and_read_back(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/api/v1/tariffs", json=energy(0.25))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["ocpi_id"] == f"VB-{body['id']}" and body["version"] == 1 and body["operator_id"] is None
    assert body["tariff"]["elements"][0]["price_components"][0] == {
        "type": "ENERGY",
        "price": 0.25,
        "vat": 21,
        "step_size": 1,
    }
    assert body["tariff"]["id"] == body["ocpi_id"] and body["tariff"]["last_updated"].endswith("Z")
    named = await client.post("/api/v1/tariffs", json=energy(0.30, "NL-PEAK"))
    assert named.status_code == 201 and named.json()["ocpi_id"] == "NL-PEAK"
    assert (await client.post("/api/v1/tariffs", json=energy(0.30, "NL-PEAK"))).status_code == 409

    replaced = await client.put(f"/api/v1/tariffs/{body['id']}", json=energy(0.27))
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    assert replaced.json()["tariff"]["elements"][0]["price_components"][0]["price"] == 0.27
    renamed = await client.put(f"/api/v1/tariffs/{body['id']}", json=energy(0.27, "OTHER"))
    assert renamed.status_code == 409
    versions = (await client.get(f"/api/v1/tariffs/{body['id']}/versions")).json()
    prices = [v["tariff"]["elements"][0]["price_components"][0]["price"] for v in versions["items"]]
    assert [v["version"] for v in versions["items"]] == [1, 2] and prices == [0.25, 0.27]
    listed = (await client.get("/api/v1/tariffs")).json()
    assert listed["total"] == 2
    assert (await client.delete(f"/api/v1/tariffs/{body['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/tariffs/{body['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"elements": []}, "tariff"),
        ({"currency": "euro"}, "currency"),
        ({"elements": [{"price_components": [{"type": "ENERGY", "price": -1, "step_size": 1}]}]}, "price"),
        (
            {"elements": [{"price_components": [{"type": "KWH", "price": 1, "step_size": 1}]}]},
            "tariff.elements[0]",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                        "restrictions": {"start_time": "25:00"},
                    }
                ]
            },
            "tariff.elements[0].restrictions.start_time",
        ),
    ],
)
async def test_bad_tariffs_are_refused_with_the_path_of_the_bad_field(
    client: httpx.AsyncClient, change: dict[str, Any], path: str
) -> None:
    response = await client.post("/api/v1/tariffs", json={**energy(0.25), **change})
    assert response.status_code == 422, response.text
    assert path in response.json()["detail"]


async def test_the_most_specific_assignment_wins_and_driver_groups_get_their_own_price(
    client: httpx.AsyncClient,
) -> None:
    site = await make_site(client, "SPEC", ["CP-S1", "CP-S2"])
    other = await make_site(client, "MEMBERS", [])
    parent = await client.post(
        "/api/v1/areas", json={"code": "SPEC-parent", "name": "Parent", "operator_id": site.operator_id}
    )
    await client.patch(f"/api/v1/areas/{site.area_id}", json={"parent_id": parent.json()["id"]})
    await make_token(client, "MEMBER")
    await make_token(client, "STRANGER")
    joined = await client.post(f"/api/v1/operators/{other.operator_id}/members", json={"id_token": "MEMBER"})
    assert joined.status_code in (200, 201), joined.text

    parent_tariff = await make_tariff(client, energy(0.20, "PARENT"), area_id=parent.json()["id"])
    area_tariff = await make_tariff(client, energy(0.25, "AREA"), area_id=site.area_id)
    station_tariff = await make_tariff(client, energy(0.30, "STATION"), station_id="CP-S1")
    connector_tariff = await make_tariff(
        client, energy(0.35, "CONNECTOR"), station_id="CP-S1", connector_id=2
    )
    member_tariff = await make_tariff(
        client, energy(0.15, "MEMBERS"), station_id="CP-S1", driver_group_operator_id=other.operator_id
    )

    async def resolved(station_id: str, connector_id: int, id_tag: str | None = None) -> tuple[int, str]:
        params: dict[str, Any] = {"station_id": station_id, "connector_id": connector_id}
        if id_tag:
            params["id_tag"] = id_tag
        body = (await client.get("/api/v1/tariffs/resolve", params=params)).json()
        return body["tariff"]["id"], body["level"]

    assert await resolved("CP-S1", 2) == (connector_tariff, "connector")
    assert await resolved("CP-S1", 1) == (station_tariff, "station")
    assert await resolved("CP-S1", 1, "STRANGER") == (station_tariff, "station")
    assert await resolved("CP-S1", 1, "MEMBER") == (member_tariff, "station")
    assert await resolved("CP-S1", 2, "MEMBER") == (connector_tariff, "connector")
    assert await resolved("CP-S2", 1) == (area_tariff, "area")
    duplicate = await client.post(
        "/api/v1/tariff-assignments", json={"tariff_id": area_tariff, "station_id": "CP-S1"}
    )
    assert duplicate.status_code == 409
    both = await client.post(
        "/api/v1/tariff-assignments",
        json={"tariff_id": area_tariff, "station_id": "CP-S2", "area_id": site.area_id},
    )
    assert both.status_code == 422

    area_assignment = (
        await client.get("/api/v1/tariff-assignments", params={"area_id": site.area_id})
    ).json()
    assert (await client.delete(f"/api/v1/tariffs/{area_tariff}")).status_code == 409
    removed = await client.delete(f"/api/v1/tariff-assignments/{area_assignment['items'][0]['id']}")
    assert removed.status_code == 204
    assert await resolved("CP-S2", 1) == (parent_tariff, "area")
    assert (await client.delete(f"/api/v1/tariffs/{area_tariff}")).status_code == 204


async def test_operator_users_see_and_change_only_their_own_tariffs(client: httpx.AsyncClient) -> None:
    mine = await make_site(client, "MINE", ["CP-MINE"])
    theirs = await make_site(client, "THEIRS", ["CP-THEIRS"])
    platform = await make_tariff(client, energy(0.40, "PLATFORM"))
    foreign = await client.post(
        "/api/v1/tariffs", json={**energy(0.50, "FOREIGN"), "operator_id": theirs.operator_id}
    )
    assert foreign.status_code == 201 and foreign.json()["operator_id"] == theirs.operator_id
    user = await user_client(
        client,
        email="mine@example.com",
        password="a-long-password",
        role="operator",
        operator_id=mine.operator_id,
    )
    async with user:
        own = await user.post("/api/v1/tariffs", json=energy(0.33, "OWN"))
        assert own.status_code == 201 and own.json()["operator_id"] == mine.operator_id
        ids = {t["ocpi_id"] for t in (await user.get("/api/v1/tariffs")).json()["items"]}
        assert ids == {"PLATFORM", "OWN"}
        assert (await user.get(f"/api/v1/tariffs/{foreign.json()['id']}")).status_code == 404
        assert (await user.put(f"/api/v1/tariffs/{platform}", json=energy(0.01))).status_code == 403
        on_mine = await user.post(
            "/api/v1/tariff-assignments", json={"tariff_id": own.json()["id"], "station_id": "CP-MINE"}
        )
        assert on_mine.status_code == 201
        on_theirs = await user.post(
            "/api/v1/tariff-assignments", json={"tariff_id": own.json()["id"], "station_id": "CP-THEIRS"}
        )
        assert on_theirs.status_code == 422
        assert (
            await user.get("/api/v1/tariffs/resolve", params={"station_id": "CP-THEIRS"})
        ).status_code == 404
    crossed = await client.post(
        "/api/v1/tariff-assignments",
        json={"tariff_id": foreign.json()["id"], "station_id": "CP-MINE", "connector_id": 1},
    )
    assert crossed.status_code == 422 and "belongs to operator" in crossed.json()["detail"]


async def test_a_running_session_keeps_the_tariff_it_started_with(
    app: App, client: httpx.AsyncClient
) -> None:
    await make_site(client, "SNAP", ["CP-SNAP"])
    tariff_id = await make_tariff(client, energy(0.20), station_id="CP-SNAP")
    await make_token(client, "DRIVER")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    async with connected(ocpp_url(app), "CP-SNAP", charger_class=BillingCharger) as charger:
        await charger.boot()
        tx = await start(charger, id_tag="DRIVER", at=t0, meter_start=0)
        await meter(charger, tx, register(t0 + timedelta(minutes=10), 1_000))
        changed = await client.put(f"/api/v1/tariffs/{tariff_id}", json=energy(0.90))
        assert changed.status_code == 200
        issued = expect(app, CdrCreated, transaction_id=tx)
        await stop(charger, tx, at=t0 + timedelta(minutes=20), meter_stop=2_000)
        await settled(issued)
    cdr = (await client.get("/api/v1/cdrs", params={"transaction_id": tx})).json()["items"][0]
    assert cdr["total_cost"] == {"excl_vat": "0.40", "incl_vat": "0.48"}
    assert cdr["tariff"]["elements"][0]["price_components"][0]["price"] == 0.20
    cost = (await client.get(f"/api/v1/transactions/{tx}/cost")).json()
    assert cost["tariff_version"] == 1 and cost["final"] is True


async def test_station_metering_facts_are_validated_and_audited(client: httpx.AsyncClient) -> None:
    await make_site(client, "MTR", ["CP-MTR"])
    bad = await client.patch("/api/v1/stations/CP-MTR/metering", json={"grid_ean": "871712345678901231"})
    assert bad.status_code == 422 and "check digit" in bad.json()["detail"]
    null = await client.patch("/api/v1/stations/CP-MTR/metering", json={"mid_meter": None})
    assert null.status_code == 422
    good = await client.patch(
        "/api/v1/stations/CP-MTR/metering",
        json={
            "mid_meter": True,
            "mid_meter_serial": "M-9",
            "grid_ean": "871712345678901230",
            "home_charger": True,
        },
    )
    assert good.status_code == 200 and good.json()["grid_ean"] == "871712345678901230"
    assert (await client.get("/api/v1/stations/CP-MTR/metering")).json()["mid_meter_serial"] == "M-9"
    assert (await client.get("/api/v1/stations/NOPE/metering")).status_code == 404
    audit = (await client.get("/api/v1/audit", params={"entity": "station_metering"})).json()["items"]
    assert audit[0]["after"]["mid_meter"] is True


async def test_a_stations_tariff_is_set_and_cleared_with_patch(client: httpx.AsyncClient) -> None:
    site = await make_site(client, "PATCHED", ["CP-P"])
    area_tariff = await make_tariff(client, energy(0.25, "AREA-P"), area_id=site.area_id)
    first = await make_tariff(client, energy(0.30, "FIRST"))
    second = await make_tariff(client, energy(0.32, "SECOND"))

    async def resolved() -> tuple[int, str]:
        body = (
            await client.get("/api/v1/tariffs/resolve", params={"station_id": "CP-P", "connector_id": 1})
        ).json()
        return body["tariff"]["id"], body["level"]

    assert (await client.patch("/api/v1/stations/CP-P", json={"tariff_id": first})).status_code == 200
    assert await resolved() == (first, "station")
    assert (await client.patch("/api/v1/stations/CP-P", json={"tariff_id": second})).status_code == 200
    assert await resolved() == (second, "station")
    assert (await client.patch("/api/v1/stations/CP-P", json={"tariff_id": None})).status_code == 200
    assert await resolved() == (area_tariff, "area")
    missing = await client.patch("/api/v1/stations/CP-P", json={"tariff_id": 999_999})
    assert missing.status_code in (404, 422), missing.text


async def test_a_running_session_is_repriced_at_most_once_per_interval_and_its_cdr_stays_exact(
    make_app: Any,
) -> None:
    from voltbridge.billing import SessionCostUpdated

    app = await make_app(billing_running_cost_interval=3600.0)  # production-like: not every reading
    async with httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10) as client:
        await make_site(client, "THROTTLE", ["CP-T"])
        await make_tariff(client, energy(0.30), station_id="CP-T")
        await make_token(client, "DRIVER")
    costs: list[SessionCostUpdated] = []

    async def collect(event: SessionCostUpdated) -> None:
        costs.append(event)

    app.bus.subscribe(SessionCostUpdated, collect, name="test-costs")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    async with connected(ocpp_url(app), "CP-T", charger_class=BillingCharger) as charger:
        await charger.boot()
        tx = await start(charger, id_tag="DRIVER", at=t0, meter_start=0)
        first = expect(app, SessionCostUpdated, transaction_id=tx)
        for minutes, wh in ((10, 1_000), (20, 2_000), (30, 3_000)):
            await meter(charger, tx, register(t0 + timedelta(minutes=minutes), wh))
        await settled(first)
        issued = expect(app, CdrCreated, transaction_id=tx)
        await stop(charger, tx, at=t0 + timedelta(minutes=40), meter_stop=4_000)
        await settled(issued)
    async with httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10) as client:
        cdr = (await client.get("/api/v1/cdrs", params={"transaction_id": tx})).json()["items"][0]
    running = [c for c in costs if c.transaction_id == tx and not c.final]
    # One re-pricing (up to the newest stored reading); the later readings fell inside the interval.
    assert len(running) == 1 and running[0].energy_wh in (1_000, 2_000, 3_000)
    assert cdr["total_cost"] == {"excl_vat": "1.20", "incl_vat": "1.45"}  # 4 kWh x 0.30, 21 % VAT

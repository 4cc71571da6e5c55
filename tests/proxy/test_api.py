"""`/api/v1/stations/{id}/upstreams` over real HTTP: the registry, its rules, live state and message log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from ocpp.v16 import call

from tests.chargers import connected
from tests.conftest import ADMIN_TOKEN, api_url, ocpp_url
from tests.proxy.conftest import Apps, UpstreamFactory, is_connected, wait_state
from voltbridge.app import App


@pytest.fixture
async def app(apps: Apps) -> App:
    return await apps.start(http=True)


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=f"{api_url(app)}/api/v1", headers=headers, timeout=10) as c:
        yield c


async def test_connect_list_change_and_disconnect_an_upstream(
    app: App, client: httpx.AsyncClient, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    billing = await upstream("billing")
    created = await client.post(
        "/stations/CP1/upstreams",
        json={"url": billing.url + "/", "role": "billing", "password": "leg-secret", "name": "Billing Co"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    upstream_id = body["id"]
    assert body["url"] == billing.url  # kept without the trailing slash
    assert body["role"] == "billing" and body["enabled"] is True and body["has_password"] is True
    assert "password" not in body
    assert body["state"] in ("idle", "connecting")  # the charger is not connected yet

    listed = await client.get("/stations/CP1/upstreams")
    assert listed.status_code == 200
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["id"] == upstream_id

    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        await wait_state(app, upstream_id, is_connected)
        await cp.call(call.Heartbeat())
        await billing.wait(lambda: "Heartbeat" in billing.actions())
        one = (await client.get(f"/stations/CP1/upstreams/{upstream_id}")).json()
        assert one["state"] == "connected"
        assert one["messages_up"] >= 2 and one["connected_since"] is not None
        assert one["connected_since"].endswith("Z")

        changed = await client.patch(f"/stations/CP1/upstreams/{upstream_id}", json={"role": "data_control"})
        assert changed.status_code == 200 and changed.json()["role"] == "data_control"
        refused = await billing.send("CP1", call.RemoteStartTransaction(id_tag="CARD1"))
        assert refused.status == "Rejected"
        one = (await client.get(f"/stations/CP1/upstreams/{upstream_id}")).json()
        assert one["refused"] == {"RemoteStartTransaction": 1}
        assert billing.connections == 1

        messages = await client.get(f"/stations/CP1/upstreams/{upstream_id}/messages", params={"limit": 5})
        assert messages.status_code == 200
        page = messages.json()
        assert len(page["items"]) == 5 and page["total"] > 5
        newest = page["items"][0]
        assert newest["direction"] in ("up", "down") and newest["at"].endswith("Z")
        assert any(m["action"] == "RemoteStartTransaction" for m in page["items"])

        deleted = await client.delete(f"/stations/CP1/upstreams/{upstream_id}")
        assert deleted.status_code == 204
        await billing.wait(lambda: not billing.connected("CP1"))
    assert (await client.get(f"/stations/CP1/upstreams/{upstream_id}")).status_code == 404


async def test_a_second_billing_upstream_is_a_conflict(app: App, client: httpx.AsyncClient) -> None:
    await app.stations.register("CP1")
    first = await client.post(
        "/stations/CP1/upstreams", json={"url": "ws://a.example/ocpp", "role": "billing"}
    )
    assert first.status_code == 201
    second = await client.post(
        "/stations/CP1/upstreams", json={"url": "ws://b.example/ocpp", "role": "billing"}
    )
    assert second.status_code == 409
    assert "already has a Billing upstream" in second.json()["detail"]
    other = await client.post(
        "/stations/CP1/upstreams", json={"url": "ws://b.example/ocpp", "role": "data_control"}
    )
    assert other.status_code == 201
    promoted = await client.patch(f"/stations/CP1/upstreams/{other.json()['id']}", json={"role": "billing"})
    assert promoted.status_code == 409
    # Another station has its own Billing upstream.
    await app.stations.register("CP2")
    elsewhere = await client.post(
        "/stations/CP2/upstreams", json={"url": "ws://a.example/ocpp", "role": "billing"}
    )
    assert elsewhere.status_code == 201


async def test_bad_input_and_unknown_things(app: App, client: httpx.AsyncClient) -> None:
    await app.stations.register("CP1")
    for body in (
        {"url": "http://a.example/ocpp", "role": "billing"},
        {"url": "ws://a.example/ocpp?x=1", "role": "billing"},
        {"url": "ws://a.example/ocpp", "role": "owner"},
        {"url": "ws://a.example/ocpp", "role": "billing", "client_cert": "-----BEGIN CERTIFICATE-----"},
        {"url": "ws://a.example/ocpp", "role": "billing", "colour": "blue"},
    ):
        answer = await client.post("/stations/CP1/upstreams", json=body)
        assert answer.status_code == 422, body
    assert (
        await client.post("/stations/NOPE/upstreams", json={"url": "ws://a/x", "role": "billing"})
    ).status_code == 404
    assert (await client.get("/stations/NOPE/upstreams")).status_code == 404
    assert (await client.get("/stations/CP1/upstreams/999")).status_code == 404
    assert (await client.get("/stations/CP1/upstreams/999/messages")).status_code == 404
    created = await client.post(
        "/stations/CP1/upstreams", json={"url": "ws://a.example/ocpp", "role": "billing"}
    )
    upstream_id = created.json()["id"]
    assert (
        await client.patch(f"/stations/CP1/upstreams/{upstream_id}", json={"role": None})
    ).status_code == 422
    await app.stations.register("CP2")
    assert (await client.get(f"/stations/CP2/upstreams/{upstream_id}")).status_code == 404


async def test_upstreams_need_a_token(app: App) -> None:
    await app.stations.register("CP1")
    async with httpx.AsyncClient(base_url=f"{api_url(app)}/api/v1", timeout=10) as anonymous:
        assert (await anonymous.get("/stations/CP1/upstreams")).status_code == 401

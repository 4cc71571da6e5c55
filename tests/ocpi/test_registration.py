"""Versions and credentials in both directions, token A/B/C, rotation and its failures."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import api_url
from tests.ocpi.conftest import register
from tests.ocpi.partner import ScriptedPartner, serve
from voltbridge.app import App


def b64(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


async def test_we_register_with_a_partner_and_then_use_token_c(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    body = await register(api, partner)
    assert body["status"] == "registered"
    assert body["version"] == "2.2.1"
    assert body["roles"][0]["party_id"] == "EMS"
    assert {e["identifier"] for e in body["endpoints"]} >= {"credentials", "locations", "tokens"}
    # Token B (ours) was used by the partner inside the POST; token C (theirs) is what we send now.
    assert partner.ours is not None and partner.issued is not None
    stored = await cpo.ocpi.registry.get(body["id"])
    assert stored.token_outgoing == partner.issued
    assert stored.token_incoming == partner.ours
    assert partner.problems == []
    # The partner calls our modules with token B.
    async with httpx.AsyncClient(base_url=api_url(cpo)) as client:
        answer = await client.get("/ocpi/2.2.1/locations", headers={"Authorization": b64(partner.ours)})
        assert answer.status_code == 200
        assert answer.json()["status_code"] == 1000


async def test_a_partner_registers_with_us_using_token_a(cpo: App, api: httpx.AsyncClient) -> None:
    created = (await api.post("/api/v1/ocpi/partners", json={"name": "incoming"})).json()
    token_a = created["token_a"]
    assert created["our_versions_url"].endswith("/ocpi/versions")
    async with serve(ScriptedPartner()) as emsp, httpx.AsyncClient(base_url=api_url(cpo)) as client:
        token_b = "partner-token-b"
        emsp.issued = token_b  # the partner accepts our calls with the token it gives us
        # Token A opens versions and credentials only.
        versions = await client.get("/ocpi/versions", headers={"Authorization": b64(token_a)})
        assert versions.status_code == 200
        assert [v["version"] for v in versions.json()["data"]] == ["2.2.1", "2.1.1"]
        refused = await client.get("/ocpi/2.2.1/locations", headers={"Authorization": b64(token_a)})
        assert refused.status_code == 401
        answer = await client.post(
            "/ocpi/2.2.1/credentials",
            headers={"Authorization": b64(token_a), "X-Request-ID": "r1", "X-Correlation-ID": "c1"},
            json=emsp._credentials(token_b),
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Request-ID"] == "r1" and answer.headers["X-Correlation-ID"] == "c1"
        token_c = answer.json()["data"]["token"]
        assert answer.json()["data"]["roles"][0]["role"] == "CPO"
        # Token A is retired; token C works; a second POST is 405.
        assert (
            await client.get("/ocpi/versions", headers={"Authorization": b64(token_a)})
        ).status_code == 401
        again = await client.post(
            "/ocpi/2.2.1/credentials",
            headers={"Authorization": b64(token_c)},
            json=emsp._credentials(token_b),
        )
        assert again.status_code == 405
        got = await client.get("/ocpi/2.2.1/credentials", headers={"Authorization": b64(token_c)})
        assert got.json()["data"]["token"] == token_c
        # The partner used token B for us (we call it with B) and saw its versions fetched.
        assert emsp.calls("GET", "/versions")
        assert emsp.problems == []
    partner = (await api.get(f"/api/v1/ocpi/partners/{created['id']}")).json()
    assert partner["status"] == "registered" and partner["token_a"] is None


async def test_unknown_or_missing_token_is_401(cpo: App) -> None:
    async with httpx.AsyncClient(base_url=api_url(cpo)) as client:
        assert (await client.get("/ocpi/versions")).status_code == 401
        answer = await client.get("/ocpi/versions", headers={"Authorization": "Token nobody"})
        assert answer.status_code == 401
        assert answer.json()["status_code"] == 2000
        assert "timestamp" in answer.json()

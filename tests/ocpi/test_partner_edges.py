"""What extrawest-ocpi does not cover, against the strict scripted partner: a 2.1.1 partner, plain
tokens, a hub (routing headers, HubClientInfo), duplicate registration, credential rotation and its
failures, partner-side updates and unregistration, version mismatches, push retries."""

from __future__ import annotations

import asyncio

import httpx

from tests.ocpi.conftest import charger, ocpi_client, register
from tests.ocpi.partner import ScriptedPartner, serve
from voltbridge.app import App
from voltbridge.ocpi.v211.models import Location as Location211


async def test_a_211_partner_with_plain_tokens(cpo: App, api: httpx.AsyncClient) -> None:
    async with serve(ScriptedPartner(version="2.1.1", encoding="plain")) as old:
        body = await register(api, old)
        assert body["version"] == "2.1.1" and body["token_encoding"] == "plain"
        assert body["roles"] == [
            {
                "role": "EMSP",
                "business_details": {"name": "Scripted eMSP"},
                "party_id": "EMS",
                "country_code": "DE",
            }
        ]
        # Inside the POST it read our 2.1.1 credentials shape (flat, one party).
        post = old.calls("POST", "/2.1.1/credentials")[0]
        assert post.body["party_id"] == "VBR" and "roles" not in post.body
        assert post.headers["authorization"] == f"Token {old.token_a}"  # plain, no request-id checks in 2.1.1
        async with charger(cpo, "CP-OLD"):
            await old.wait_for(lambda: "S-CP-OLD" in old.locations)
            Location211.model_validate(old.locations["S-CP-OLD"])  # a 2.1.1 Location, PUT whole
        assert old.ours is not None
        async with ocpi_client(cpo, old.ours, encoding="plain") as ocpi:
            listed = await ocpi.get("/2.1.1/locations")
            assert listed.status_code == 200
            assert listed.json()["data"][0]["type"] == "UNKNOWN"
            assert "country_code" not in listed.json()["data"][0]
        assert old.problems == []


async def test_a_211_partner_registers_with_us(cpo: App, api: httpx.AsyncClient) -> None:
    created = (
        await api.post("/api/v1/ocpi/partners", json={"name": "old", "token_encoding": "plain"})
    ).json()
    async with (
        serve(ScriptedPartner(version="2.1.1", encoding="plain")) as old,
        ocpi_client(cpo, created["token_a"], encoding="plain") as ocpi,
    ):
        old.issued = "old-partner-token"
        details = await ocpi.get("/2.1.1")
        assert {e["identifier"] for e in details.json()["data"]["endpoints"]} == {"credentials", "locations"}
        answer = await ocpi.post("/2.1.1/credentials", json=old._credentials("old-partner-token"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["country_code"] == "NL"
    partner = (await api.get(f"/api/v1/ocpi/partners/{created['id']}")).json()
    assert partner["status"] == "registered" and partner["version"] == "2.1.1"


async def test_a_partner_set_to_base64_refuses_plain_tokens(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    body = await register(api, partner, token_encoding="base64")
    assert partner.ours is not None
    async with ocpi_client(cpo, partner.ours, encoding="plain") as plain:
        assert (await plain.get("/2.2.1/locations")).status_code == 401
    await api.patch(f"/api/v1/ocpi/partners/{body['id']}", json={"token_encoding": "plain"})
    async with ocpi_client(cpo, partner.ours, encoding="plain") as plain:
        assert (await plain.get("/2.2.1/locations")).status_code == 200
    async with ocpi_client(cpo, partner.ours) as b64:
        assert (await b64.get("/2.2.1/locations")).status_code == 401


async def test_a_hub_gets_broadcast_routing_and_tells_us_its_clients(
    cpo: App, api: httpx.AsyncClient
) -> None:
    async with serve(ScriptedPartner(role="HUB", country_code="EU", party_id="HUB")) as hub:
        await register(api, hub)
        assert hub.ours is not None
        async with charger(cpo, "CP-HUB"):
            await hub.wait_for(lambda: "S-CP-HUB" in hub.locations)
        put = hub.calls("PUT", "/locations/")[0]
        assert put.headers["ocpi-from-country-code"] == "NL" and put.headers["ocpi-from-party-id"] == "VBR"
        assert put.headers["ocpi-to-country-code"] == "EU" and put.headers["ocpi-to-party-id"] == "HUB"
        assert not any(k.startswith("ocpi-") for k in hub.calls("POST", "/credentials")[0].headers)
        info = {
            "party_id": "ABC",
            "country_code": "FR",
            "role": "EMSP",
            "status": "CONNECTED",
            "last_updated": "2025-01-01T00:00:00Z",
        }
        async with ocpi_client(cpo, hub.ours) as ocpi:
            assert (await ocpi.put("/2.2.1/hubclientinfo/FR/ABC", json=info)).status_code == 201
            got = await ocpi.get("/2.2.1/hubclientinfo/fr/abc")
            assert got.json()["data"]["status"] == "CONNECTED"
            mismatch = await ocpi.put("/2.2.1/hubclientinfo/FR/XYZ", json=info)
            assert mismatch.json()["status_code"] == 2001
            # Tokens of any party behind the hub are accepted from it.
            token = hub.token("HUBTOKEN") | {"country_code": "FR", "party_id": "ABC"}
            assert (await ocpi.put("/2.2.1/tokens/FR/ABC/HUBTOKEN", json=token)).status_code == 201
        assert hub.problems == []


async def test_duplicate_registration_is_refused(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    body = await register(api, partner)
    again = await api.post(f"/api/v1/ocpi/partners/{body['id']}/register")
    assert again.status_code == 409
    assert partner.ours is not None
    async with ocpi_client(cpo, partner.ours) as ocpi:
        post = await ocpi.post("/2.2.1/credentials", json=partner._credentials("x"))
        assert post.status_code == 405 and post.json()["status_code"] == 2000


async def test_rotation_replaces_our_token_and_a_failed_rotation_rolls_back(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    body = await register(api, partner)
    first = partner.ours
    assert first is not None
    rotated = await api.post(f"/api/v1/ocpi/partners/{body['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    second = partner.ours
    assert second is not None and second != first
    async with ocpi_client(cpo, first) as old, ocpi_client(cpo, second) as new:
        assert (await old.get("/2.2.1/locations")).status_code == 401
        assert (await new.get("/2.2.1/locations")).status_code == 200
    # The partner's credentials PUT breaks: the new token is withdrawn, the old one keeps working.
    partner.fail_credentials_put = True
    failed = await api.post(f"/api/v1/ocpi/partners/{body['id']}/rotate")
    assert failed.status_code == 502 and "OCPI status 3000" in failed.json()["detail"]
    async with ocpi_client(cpo, second) as current:
        assert (await current.get("/2.2.1/locations")).status_code == 200
    stored = await cpo.ocpi.registry.get(body["id"])
    assert stored.token_incoming == second and stored.token_incoming_previous is None
    assert stored.last_error is not None and stored.last_error.startswith("rotation failed")
    assert partner.problems == []


async def test_partner_side_update_and_unregistration(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    body = await register(api, partner)
    ours = partner.ours
    assert ours is not None
    partner.issued = "partner-new-token"
    async with ocpi_client(cpo, ours) as ocpi:
        updated = await ocpi.put("/2.2.1/credentials", json=partner._credentials("partner-new-token"))
        assert updated.status_code == 200
        fresh = updated.json()["data"]["token"]
        assert fresh != ours
    assert partner.calls("GET", "/versions")[-1].headers["authorization"] == partner.auth("partner-new-token")
    stored = await cpo.ocpi.registry.get(body["id"])
    assert stored.token_outgoing == "partner-new-token"
    async with ocpi_client(cpo, fresh) as ocpi:
        assert (await ocpi.delete("/2.2.1/credentials")).status_code == 200
        assert (await ocpi.get("/2.2.1/locations")).status_code == 401
    assert (await api.get(f"/api/v1/ocpi/partners/{body['id']}")).json()["status"] == "unregistered"


async def test_we_unregister_and_suspend(cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner) -> None:
    body = await register(api, partner)
    assert (await api.post(f"/api/v1/ocpi/partners/{body['id']}/suspend")).json()["status"] == "suspended"
    assert partner.ours is not None
    async with ocpi_client(cpo, partner.ours) as ocpi:
        assert (await ocpi.get("/2.2.1/locations")).status_code == 401
    assert (await api.post(f"/api/v1/ocpi/partners/{body['id']}/resume")).json()["status"] == "registered"
    gone = await api.delete(f"/api/v1/ocpi/partners/{body['id']}")
    assert gone.json()["status"] == "unregistered"
    assert partner.calls("DELETE", "/credentials") and partner.issued is None


async def test_no_common_version_and_missing_endpoints(cpo: App, api: httpx.AsyncClient) -> None:
    async with serve(ScriptedPartner(version="2.2")) as odd:
        answer = await api.post(
            "/api/v1/ocpi/partners",
            json={"name": "odd", "versions_url": f"{odd.base_url}/versions", "token_a": odd.token_a},
        )
        assert answer.status_code == 502 and "no common OCPI version" in answer.json()["detail"]
    partners = (await api.get("/api/v1/ocpi/partners")).json()["items"]
    assert partners[0]["status"] == "pending" and partners[0]["last_error"]
    async with serve(ScriptedPartner()) as unreachable:
        url = f"{unreachable.base_url}/versions"
    answer = await api.post(
        "/api/v1/ocpi/partners", json={"name": "down", "versions_url": url, "token_a": "x"}
    )
    assert answer.status_code == 502 and "could not read" in answer.json()["detail"]


async def test_pushes_are_retried_with_backoff(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    cpo.ocpi.options.push_retry_base = 0.05
    body = await register(api, partner)
    partner.fail_pushes = 2
    async with charger(cpo, "CP-RETRY"):
        await partner.wait_for(lambda: "S-CP-RETRY" in partner.locations)
    # The partner has the location; the outbox marks the push done right after the answer.
    async with asyncio.timeout(10):
        while True:
            pushes = (
                await api.get(f"/api/v1/ocpi/partners/{body['id']}/pushes", params={"status": "done"})
            ).json()
            done = [p for p in pushes["items"] if p["object_key"] == "locations/S-CP-RETRY"]
            if done:
                break
            await asyncio.sleep(0.05)
    assert done[0]["attempts"] == 3
    kpis = (await api.get(f"/api/v1/ocpi/partners/{body['id']}/kpis")).json()
    assert kpis["sync_success_rate"] == 1.0

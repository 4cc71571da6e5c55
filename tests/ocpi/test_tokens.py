"""Tokens receiver (PUT/PATCH/GET) and OCPI tokens authorizing on a real OCPP charger."""

from __future__ import annotations

import httpx
import pytest
from ocpp.v16 import call

from tests.ocpi.conftest import charger, ocpi_client, register
from tests.ocpi.partner import ScriptedPartner
from voltbridge.app import App
from voltbridge.ocpi.options import OfflinePolicy


async def test_tokens_receiver_put_patch_get(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    await register(api, partner)
    assert partner.ours is not None
    token = partner.token("04A1B2C3", whitelist="ALWAYS")
    async with ocpi_client(cpo, partner.ours) as ocpi:
        created = await ocpi.put("/2.2.1/tokens/DE/EMS/04A1B2C3", json=token)
        assert created.status_code == 201 and created.json()["status_code"] == 1000
        assert (await ocpi.put("/2.2.1/tokens/DE/EMS/04A1B2C3?type=RFID", json=token)).status_code == 200
        got = await ocpi.get("/2.2.1/tokens/de/ems/04a1b2c3")  # CiStrings compare without case
        assert got.json()["data"]["uid"] == "04A1B2C3"
        patched = await ocpi.patch(
            "/2.2.1/tokens/DE/EMS/04A1B2C3", json={"valid": False, "last_updated": "2099-01-01T00:00:00Z"}
        )
        assert patched.status_code == 200
        assert (await ocpi.get("/2.2.1/tokens/DE/EMS/04A1B2C3")).json()["data"]["valid"] is False
        # An older PATCH arriving late changes nothing.
        await ocpi.patch(
            "/2.2.1/tokens/DE/EMS/04A1B2C3", json={"valid": True, "last_updated": "2000-01-01T00:00:00Z"}
        )
        assert (await ocpi.get("/2.2.1/tokens/DE/EMS/04A1B2C3")).json()["data"]["valid"] is False
        no_date = await ocpi.patch("/2.2.1/tokens/DE/EMS/04A1B2C3", json={"valid": True})
        assert no_date.status_code == 400 and no_date.json()["status_code"] == 2001
        wrong_uid = await ocpi.put("/2.2.1/tokens/DE/EMS/OTHER", json=token)
        assert wrong_uid.json()["status_code"] == 2001
        too_long = await ocpi.put("/2.2.1/tokens/DE/EMS/04A1B2C3", json={**token, "issuer": "x" * 65})
        assert too_long.json()["status_code"] == 2001
        not_theirs = await ocpi.put(
            "/2.2.1/tokens/NL/XYZ/04A1B2C3", json={**token, "country_code": "NL", "party_id": "XYZ"}
        )
        assert not_theirs.status_code == 404
        unknown = await ocpi.get("/2.2.1/tokens/DE/EMS/NOPE")
        assert unknown.status_code == 404 and unknown.json()["status_code"] == 2004
        not_json = await ocpi.put(
            "/2.2.1/tokens/DE/EMS/04A1B2C3", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 400


@pytest.mark.parametrize(
    ("whitelist", "answer", "expected", "realtime"),
    [
        ("ALWAYS", "ALLOWED", "Accepted", False),
        ("ALLOWED", "BLOCKED", "Accepted", False),  # whitelisted: decided from the cache
        ("NEVER", "ALLOWED", "Accepted", True),
        ("NEVER", "BLOCKED", "Blocked", True),
        ("ALLOWED_OFFLINE", "EXPIRED", "Expired", True),
        ("ALLOWED_OFFLINE", None, "Accepted", True),  # the eMSP hangs: allowed offline
        ("NEVER", None, "Invalid", True),  # the eMSP hangs: never without it
    ],
)
async def test_ocpi_token_authorizes_on_our_charger(
    cpo: App,
    api: httpx.AsyncClient,
    partner: ScriptedPartner,
    whitelist: str,
    answer: str | None,
    expected: str,
    realtime: bool,
) -> None:
    # A bounded wait at the charger: short where the eMSP hangs, generous where it answers, so a
    # loaded test machine cannot turn an answer into the offline fallback.
    cpo.ocpi.options.realtime_auth_timeout = 0.5 if answer is None else 10.0
    cpo.ocpi.options.offline_policy = OfflinePolicy.WHITELIST
    partner.authorize_answer = answer
    await register(api, partner)
    assert partner.ours is not None
    async with ocpi_client(cpo, partner.ours) as ocpi:
        await ocpi.put("/2.2.1/tokens/DE/EMS/RFID42", json=partner.token("RFID42", whitelist=whitelist))
    async with charger(cpo, "CP-AUTH") as cp:
        result = await cp.call(call.Authorize(id_tag="RFID42"))
        assert result.id_tag_info["status"] == expected
        # A token nobody knows is the platform's business (it has none): refused.
        stranger = await cp.call(call.Authorize(id_tag="STRANGER"))
        assert stranger.id_tag_info["status"] == "Invalid"
    asked = partner.calls("POST", "/tokens/RFID42/authorize")
    if answer is not None:  # a hanging eMSP may not even have read the request before we gave up
        assert bool(asked) is realtime
    if asked and answer is not None:
        assert asked[0].query == {"type": "RFID"}
        assert asked[0].body["location_id"] == "S-CP-AUTH"
    assert partner.problems == []

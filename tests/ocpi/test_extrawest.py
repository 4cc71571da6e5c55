"""End to end against an independent OCPI implementation: extrawest-ocpi as the eMSP, on loopback,
in its own virtual environment; voltbridge as the CPO with a real OCPP charger.

Covered: registration (we are the credentials Sender: token A, B, C), Location/Tariff/Session/CDR
pushes validated by the library's own models, a Token pushed by the library into our Tokens
receiver, real-time authorization at the library's Tokens Sender, and CommandResults accepted by
its commands endpoint. Known library quirks tolerated: 403 instead of 401, object answers wrapped
in lists, URLs with a trailing slash (see peer/extrawest_emsp.py).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from tests.ocpi.conftest import billing_tariff, charger, ocpi_client, wait_until
from tests.ocpi.peer.venv import Peer, ensure_venv, running_emsp
from voltbridge.app import App

EXAMPLES = Path(__file__).parents[3] / "shared" / "data" / "ocpi" / "spec-examples-2.2.1"


@pytest.fixture(scope="session")
def peer_python() -> Path:
    found = ensure_venv()
    if isinstance(found, str):
        pytest.skip(f"extrawest-ocpi peer unavailable: {found}")
    return found


@pytest.fixture
async def emsp(peer_python: Path) -> AsyncIterator[Peer]:
    async with running_emsp(peer_python, secrets.token_urlsafe(12), "DE", "EXW") as peer:
        yield peer


async def store(peer: Peer) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        body: dict[str, Any] = (await client.get(f"{peer.base_url}/harness/store")).json()
        return body


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_roaming_with_extrawest_as_emsp(cpo: App, api: httpx.AsyncClient, emsp: Peer) -> None:
    cpo.ocpi.options.realtime_auth_timeout = 5.0
    tariff_id = await billing_tariff(cpo, "tariff_8_simple_025kwh.json", station_id="CP-EXW")

    # Registration: we POST our token B with their token A; they call us back with B; we get C.
    created = await api.post(
        "/api/v1/ocpi/partners",
        json={"name": "extrawest", "versions_url": emsp.versions_url, "token_a": emsp.token_a},
    )
    assert created.status_code == 201, created.text
    partner = created.json()
    assert partner["status"] == "registered" and partner["version"] == "2.2.1"
    assert partner["roles"][0]["party_id"].upper() == "EXW"  # the library lowercases CiStrings
    peer_state = await store(emsp)
    token_b = peer_state["ours"]["token"]
    assert peer_state["tokens_c"] == [(await cpo.ocpi.registry.get(partner["id"])).token_outgoing]

    # The tariff went out on registration; the library's Tariff model accepted it.
    async def has(module: str, key: str) -> bool:
        # The library lowercases CiStrings it stores (CI_STRING_LOWERCASE_PREFERENCE).
        return key.lower() in {k.lower() for k in (await store(emsp))["store"].get(module, {})}

    async def any_of(module: str) -> bool:
        return bool((await store(emsp))["store"].get(module))

    await wait_until(lambda: has("tariffs", tariff_id))

    # A Token pushed by the library (its push endpoint) into our Tokens receiver.
    token = {
        "country_code": "DE",
        "party_id": "EXW",
        "uid": "EXWRFID1",
        "type": "RFID",
        "contract_id": "DE-EXW-C12345678-X",
        "issuer": "extrawest eMSP",
        "valid": True,
        "whitelist": "NEVER",
        "last_updated": ts(datetime.now(UTC)),
    }
    async with httpx.AsyncClient(base_url=emsp.base_url, timeout=20) as client:
        await client.put("/harness/tokens/EXWRFID1", json=token)
        details = f"{cpo.ocpi.base_url()}/2.2.1"
        token_c = peer_state["tokens_c"][0]
        pushed = await client.post(
            "/push/2.2.1",
            headers={"Authorization": "Token " + base64.b64encode(token_c.encode()).decode()},
            json={
                "module_id": "tokens",
                "object_id": "EXWRFID1",
                "receivers": [
                    {"endpoints_url": f"{emsp.base_url}/harness/details?url={details}", "auth_token": token_b}
                ],
            },
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["receiver_responses"][0]["status_code"] in (200, 201)
    async with ocpi_client(cpo, token_b) as ocpi:
        cached = await ocpi.get("/2.2.1/tokens/DE/EXW/EXWRFID1")
        assert cached.json()["data"]["whitelist"] == "NEVER"

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    async with charger(cpo, "CP-EXW") as cp:
        # The Location went out when the charger reported its connector.
        await wait_until(lambda: has("locations", "S-CP-EXW"))
        # Real-time authorization at the library's Tokens Sender (whitelist NEVER).
        allowed = await cp.call(call.Authorize(id_tag="EXWRFID1"))
        assert allowed.id_tag_info["status"] == "Accepted"
        assert "exwrfid1" in (await store(emsp))["store"]["authorizations"]
        # A session: PUT, PATCH, final PUT, then the CDR.
        started = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="EXWRFID1", meter_start=0, timestamp=ts(start))
        )
        tx = str(started.transaction_id)
        await wait_until(lambda: has("sessions", tx))
        await cp.call(
            call.StopTransaction(
                meter_stop=8000, timestamp=ts(start + timedelta(minutes=25)), transaction_id=int(tx)
            )
        )
        await wait_until(lambda: any_of("cdrs"), timeout=20)
        # A command whose result goes to the library's commands endpoint.
        async with ocpi_client(cpo, token_b) as ocpi:
            answer = await ocpi.post(
                "/2.2.1/commands/UNLOCK_CONNECTOR",
                json={
                    "response_url": f"{emsp.base_url}/ocpi/emsp/2.2.1/commands/unlock-1",
                    "location_id": "S-CP-EXW",
                    "evse_uid": "CP-EXW-1",
                    "connector_id": "1",
                },
            )
            assert answer.json()["data"]["result"] == "ACCEPTED"
        await wait_until(lambda: has("commands", "unlock-1"))
    state = (await store(emsp))["store"]
    session = state["sessions"][tx.lower()]
    assert session["status"] == "COMPLETED" and float(session["kwh"]) == 8.0
    assert (
        session["auth_method"] == "AUTH_REQUEST"
        and session["authorization_reference"].upper() == "EXTRAWEST-REF"
    )
    cdr = next(iter(state["cdrs"].values()))
    assert cdr["session_id"] == tx
    assert float(cdr["total_cost"]["excl_vat"]) == 2.0 and float(cdr["total_energy"]) == 8.0
    assert state["commands"]["unlock-1"]["result"] == "ACCEPTED"
    pushes = (await api.get(f"/api/v1/ocpi/partners/{partner['id']}/pushes")).json()["items"]
    assert pushes and all(p["status"] in ("done", "superseded") for p in pushes), pushes
    kpis = (await api.get(f"/api/v1/ocpi/partners/{partner['id']}/kpis")).json()
    assert kpis["cdr_acceptance_rate"] == 1.0 and kpis["command_success_rate"] == 1.0

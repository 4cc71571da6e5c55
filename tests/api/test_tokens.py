"""/api/v1/id-tokens: create, list with search, read, change, delete."""

from __future__ import annotations

import httpx


async def test_create_answers_the_token_with_defaults(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/id-tokens", json={"uid": "RFID0001"})
    assert created.status_code == 201, created.text
    token = created.json()
    assert token["uid"] == "RFID0001"
    assert token["status"] == "Accepted"
    assert token["expires_at"] is None and token["group_id"] is None and token["description"] is None
    assert token["max_concurrent_tx"] == 1
    assert token["created_at"].endswith("Z")
    assert (await client.get("/api/v1/id-tokens/RFID0001")).json() == token


async def test_create_takes_every_field_and_answers_times_in_utc(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/id-tokens",
        json={
            "uid": "RFID0002",
            "status": "Blocked",
            "expires_at": "2031-06-01T12:00:00+02:00",
            "group_id": "FLEET1",
            "max_concurrent_tx": None,
            "description": "van 7",
        },
    )
    assert created.status_code == 201, created.text
    token = created.json()
    assert token["status"] == "Blocked"
    assert token["expires_at"] == "2031-06-01T10:00:00.000Z"
    assert token["group_id"] == "FLEET1"
    assert token["description"] == "van 7"


async def test_create_with_no_concurrent_session_limit(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/id-tokens", json={"uid": "RFID0003", "max_concurrent_tx": None})
    assert created.json()["max_concurrent_tx"] is None


async def test_create_refuses_duplicates_and_bad_fields(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/id-tokens", json={"uid": "T1"})).status_code == 201
    duplicate = await client.post("/api/v1/id-tokens", json={"uid": "T1"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["detail"]
    for body in (
        {"uid": ""},
        {"uid": "x" * 37},
        {"uid": "T2", "status": "Maybe"},
        {"uid": "T2", "expires_at": "2031-06-01T12:00:00"},  # no offset: ambiguous
        {"uid": "T2", "expires_at": "soon"},
        {"uid": "T2", "max_concurrent_tx": -1},
        {"uid": "T2", "colour": "red"},
    ):
        response = await client.post("/api/v1/id-tokens", json=body)
        assert response.status_code == 422, body


async def test_list_searches_uids_and_pages(client: httpx.AsyncClient) -> None:
    for uid in ("AAA1", "AAA2", "BBB1", "AAA3"):
        await client.post("/api/v1/id-tokens", json={"uid": uid})
    everything = (await client.get("/api/v1/id-tokens")).json()
    assert everything["total"] == 4
    assert [t["uid"] for t in everything["items"]] == ["AAA1", "AAA2", "AAA3", "BBB1"]
    found = (await client.get("/api/v1/id-tokens", params={"search": "AAA", "limit": 2, "offset": 1})).json()
    assert found["total"] == 3 and [t["uid"] for t in found["items"]] == ["AAA2", "AAA3"]
    assert (await client.get("/api/v1/id-tokens", params={"search": "ZZZ"})).json() == {
        "items": [],
        "total": 0,
    }


async def test_patch_changes_given_fields_and_null_clears(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/id-tokens",
        json={"uid": "T1", "expires_at": "2031-01-01T00:00:00Z", "group_id": "G1", "description": "card"},
    )
    blocked = (await client.patch("/api/v1/id-tokens/T1", json={"status": "Blocked"})).json()
    assert blocked["status"] == "Blocked"
    assert blocked["expires_at"] == "2031-01-01T00:00:00.000Z" and blocked["group_id"] == "G1"
    cleared = await client.patch(
        "/api/v1/id-tokens/T1",
        json={"expires_at": None, "group_id": None, "description": None, "max_concurrent_tx": None},
    )
    assert cleared.status_code == 200
    body = cleared.json()
    assert body["expires_at"] is None and body["group_id"] is None and body["description"] is None
    assert body["max_concurrent_tx"] is None and body["status"] == "Blocked"
    limited = (await client.patch("/api/v1/id-tokens/T1", json={"max_concurrent_tx": 2})).json()
    assert limited["max_concurrent_tx"] == 2
    assert (await client.patch("/api/v1/id-tokens/T1", json={"status": None})).status_code == 422
    assert (await client.patch("/api/v1/id-tokens/NOPE", json={"status": "Accepted"})).status_code == 404


async def test_delete_removes_the_token(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/id-tokens", json={"uid": "T1"})
    assert (await client.delete("/api/v1/id-tokens/T1")).status_code == 204
    assert (await client.get("/api/v1/id-tokens/T1")).status_code == 404
    assert (await client.delete("/api/v1/id-tokens/T1")).status_code == 404

"""/api/v1/users (platform admins only) and their bearer tokens."""

from __future__ import annotations

import httpx

from tests.api.conftest import bearer, make_operator
from voltbridge.app import App


async def test_create_list_and_read_users(app: App, client: httpx.AsyncClient) -> None:
    operator_id = await make_operator(app)
    admin = await client.post(
        "/api/v1/users", json={"email": "Admin@Example.com", "password": "long-enough", "role": "admin"}
    )
    assert admin.status_code == 201, admin.text
    assert admin.json()["email"] == "admin@example.com"
    assert "password" not in admin.json() and "password_hash" not in admin.json()
    viewer = await client.post(
        "/api/v1/users",
        json={
            "email": "viewer@example.com",
            "role": "operator",
            "operator_id": operator_id,
            "read_only": True,
        },
    )
    assert viewer.status_code == 201, viewer.text
    assert viewer.json()["operator_id"] == operator_id and viewer.json()["read_only"] is True
    listed = (await client.get("/api/v1/users")).json()
    assert listed["total"] == 2
    assert [u["email"] for u in listed["items"]] == ["admin@example.com", "viewer@example.com"]
    assert (await client.get("/api/v1/users", params={"limit": 1, "offset": 1})).json()["items"][
        0
    ] == viewer.json()
    one = await client.get(f"/api/v1/users/{admin.json()['id']}")
    assert one.json() == admin.json()
    assert (await client.get("/api/v1/users/9999")).status_code == 404


async def test_create_refuses_bad_users(client: httpx.AsyncClient) -> None:
    assert (
        await client.post("/api/v1/users", json={"email": "a@example.com", "role": "admin"})
    ).status_code == 201
    duplicate = await client.post("/api/v1/users", json={"email": "A@example.com", "role": "admin"})
    assert duplicate.status_code == 409
    for body in (
        {"email": "not-an-address", "role": "admin"},
        {"email": "b@example.com", "role": "owner"},
        {"email": "b@example.com", "role": "operator"},  # an operator user needs operator_id
        {"email": "b@example.com", "role": "admin", "operator_id": 1},
        {"email": "b@example.com", "role": "admin", "password": "short"},
    ):
        response = await client.post("/api/v1/users", json=body)
        assert response.status_code == 422, (body, response.text)


async def test_a_token_is_shown_once_and_listed_without_its_secret(client: httpx.AsyncClient) -> None:
    user = (await client.post("/api/v1/users", json={"email": "bot@example.com", "role": "admin"})).json()
    issued = await client.post(f"/api/v1/users/{user['id']}/tokens", json={"name": "ci"})
    assert issued.status_code == 201
    secret = issued.json()["token"]
    assert issued.json()["name"] == "ci" and len(secret) > 30
    default_name = await client.post(f"/api/v1/users/{user['id']}/tokens")
    assert default_name.status_code == 201 and default_name.json()["name"] == "api"
    listed = (await client.get(f"/api/v1/users/{user['id']}/tokens")).json()
    assert listed["total"] == 2
    first = listed["items"][0]
    assert set(first) == {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at"}
    assert secret.startswith(first["prefix"]) and secret not in str(listed)
    async with httpx.AsyncClient(base_url=client.base_url, headers=bearer(secret)) as bot:
        assert (await bot.get("/api/v1/me")).json()["email"] == "bot@example.com"
        assert (await client.delete(f"/api/v1/users/{user['id']}/tokens/{first['id']}")).status_code == 204
        assert (await bot.get("/api/v1/me")).status_code == 401
    revoked = (await client.get(f"/api/v1/users/{user['id']}/tokens")).json()["items"][0]
    assert revoked["revoked_at"].endswith("Z")
    assert (await client.post("/api/v1/users/9999/tokens")).status_code == 404
    assert (await client.get("/api/v1/users/9999/tokens")).status_code == 404
    assert (await client.delete(f"/api/v1/users/{user['id']}/tokens/9999")).status_code == 404

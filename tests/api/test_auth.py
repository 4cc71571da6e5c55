"""Bearer tokens: 401 without a valid one, 403 for what the token's user may not do."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import bearer, make_operator, user_client
from tests.conftest import ADMIN_TOKEN
from voltbridge.app import App


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": ADMIN_TOKEN},
    ],
    ids=["none", "empty", "unknown", "basic-scheme", "no-scheme"],
)
async def test_requests_without_a_valid_bearer_token_get_401_with_a_challenge(
    anonymous: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path in (
        ("GET", "/api/v1/stations"),
        ("POST", "/api/v1/id-tokens"),
        ("GET", "/api/v1/users"),
    ):
        response = await anonymous.request(method, path, headers=headers, json={"uid": "T1"})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["detail"]


async def test_health_metrics_and_docs_need_no_token(anonymous: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/metrics", "/api/openapi.json", "/api/docs"):
        assert (await anonymous.get(path)).status_code == 200, path


async def test_admin_token_from_settings_is_a_platform_admin(client: httpx.AsyncClient) -> None:
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json() == {
        "user_id": None,
        "email": "admin-token",
        "role": "admin",
        "operator_id": None,
        "read_only": False,
    }


async def test_a_user_token_authenticates_until_it_is_revoked(client: httpx.AsyncClient) -> None:
    async with await user_client(client, email="Ops@Example.com", role="admin") as ops:
        me = (await ops.get("/api/v1/me")).json()
        assert me["email"] == "ops@example.com" and me["role"] == "admin"
        tokens = (await client.get(f"/api/v1/users/{me['user_id']}/tokens")).json()["items"]
        assert len(tokens) == 1 and tokens[0]["last_used_at"] is not None
        revoked = await client.delete(f"/api/v1/users/{me['user_id']}/tokens/{tokens[0]['id']}")
        assert revoked.status_code == 204
        assert (await ops.get("/api/v1/stations")).status_code == 401


async def test_read_only_user_may_read_but_not_write(client: httpx.AsyncClient) -> None:
    async with await user_client(client, email="viewer@example.com", role="admin", read_only=True) as viewer:
        assert (await viewer.get("/api/v1/stations")).status_code == 200
        assert (await viewer.get("/api/v1/users")).status_code == 200
        for method, path, body in (
            ("POST", "/api/v1/stations", {"id": "CP1"}),
            ("POST", "/api/v1/id-tokens", {"uid": "T1"}),
            ("POST", "/api/v1/stations/CP1/commands/Reset", {"type": "Soft"}),
            ("POST", "/api/v1/users", {"email": "x@example.com", "role": "admin"}),
        ):
            response = await viewer.request(method, path, json=body)
            assert response.status_code == 403, (path, response.text)
            assert "read-only" in response.json()["detail"]
    assert (await client.get("/api/v1/stations")).json()["total"] == 0


async def test_operator_user_may_not_manage_users(app: App, client: httpx.AsyncClient) -> None:
    operator_id = await make_operator(app)
    async with await user_client(
        client, email="op@example.com", role="operator", operator_id=operator_id
    ) as operator:
        assert (await operator.get("/api/v1/stations")).status_code == 200
        assert (await operator.post("/api/v1/id-tokens", json={"uid": "T1"})).status_code == 201
        for method, path in (("GET", "/api/v1/users"), ("POST", "/api/v1/users"), ("GET", "/api/v1/users/1")):
            response = await operator.request(method, path, json={"email": "x@example.com", "role": "admin"})
            assert response.status_code == 403, path
            assert response.json() == {"detail": "only platform admins may do this"}
        me = (await operator.get("/api/v1/me")).json()
        assert me["role"] == "operator" and me["operator_id"] == operator_id


async def test_inactive_or_unknown_token_cannot_be_told_apart(anonymous: httpx.AsyncClient) -> None:
    unknown = await anonymous.get("/api/v1/stations", headers=bearer("vb_" + "x" * 43))
    assert unknown.status_code == 401

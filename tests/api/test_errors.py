"""The error table: every error is `{"detail": "..."}` with the right status; internals never leak."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from voltbridge.api.errors import status_for
from voltbridge.app import App
from voltbridge.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StationBusy,
    StationOffline,
    StationRejected,
    StationTimeout,
    VoltbridgeError,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (Forbidden("x"), 403),
        (InvalidInput("x"), 422),
        (StationOffline("CP1", "Reset"), 409),
        (StationTimeout("CP1", "Reset", 1.0), 504),
        (StationBusy("CP1", "Reset"), 503),
        (StationRejected("CP1", "Reset", "NotSupported", "no"), 502),
        (VoltbridgeError("a domain error nobody mapped"), 500),
    ],
)
def test_each_domain_error_has_one_status(error: VoltbridgeError, status: int) -> None:
    assert status_for(error) == status


async def test_a_stray_exception_is_a_generic_500_and_is_logged(
    app: App, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(**kwargs: Any) -> Any:
        raise ValueError("secret connection string postgres://user:pw@db")

    # A fault injected into a real service: the request still travels over real HTTP.
    monkeypatch.setattr(app.tokens, "get_all", broken)
    with caplog.at_level(logging.ERROR, logger="voltbridge.api.errors"):
        response = await client.get("/api/v1/id-tokens")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; it has been logged"}
    assert "secret" not in response.text
    assert any("unhandled error on GET /api/v1/id-tokens" in r.getMessage() for r in caplog.records)
    assert (await client.get("/api/v1/stations")).status_code == 200  # the server keeps serving


async def test_validation_errors_are_422_with_a_readable_detail(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/id-tokens", json={"status": "Maybe"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "uid: Field required" in detail
    assert "status: Input should be 'Accepted', 'Blocked', 'Expired' or 'Invalid'" in detail
    unknown_field = await client.post("/api/v1/id-tokens", json={"uid": "T1", "colour": "red"})
    assert unknown_field.json() == {"detail": "colour: Extra inputs are not permitted"}
    not_an_object = await client.post("/api/v1/id-tokens", json=["T1"])
    assert not_an_object.status_code == 422


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/id-tokens", content=b'{"uid": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "the request body is not valid JSON"}


async def test_unknown_paths_and_methods_keep_the_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    wrong_method = await client.put("/api/v1/stations")
    assert wrong_method.status_code == 405 and wrong_method.json() == {"detail": "Method Not Allowed"}


async def test_domain_errors_carry_their_message(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/stations/CP9")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "station 'CP9' does not exist"}
    invalid = await client.post("/api/v1/stations", json={"id": "a/b"})
    assert invalid.status_code == 422
    assert invalid.json() == {"detail": "station id must be 1 to 64 printable characters without '/'"}

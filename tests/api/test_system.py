"""/healthz, /metrics and the OpenAPI document."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from tests.api.charger import booted
from tests.conftest import ocpp_url
from voltbridge.app import App


async def test_healthz_answers_ok_when_the_database_answers(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_answers_503_when_the_database_does_not_answer(
    app: App, anonymous: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    # Fault injection: the health check's engine points where nothing listens, so connecting is refused.
    unreachable = create_async_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{unused_tcp_port}/none")
    monkeypatch.setattr(app.db, "engine", unreachable)
    try:
        response = await anonymous.get("/healthz")
    finally:
        await unreachable.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


async def test_openapi_document_lists_the_v1_resources(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/stations",
        "/api/v1/stations/{station_id}",
        "/api/v1/stations/{station_id}/events",
        "/api/v1/stations/{station_id}/commands/{action}",
        "/api/v1/stations/{station_id}/commands",
        "/api/v1/commands",
        "/api/v1/id-tokens",
        "/api/v1/id-tokens/{uid}",
        "/api/v1/transactions",
        "/api/v1/transactions/{transaction_id}",
        "/api/v1/transactions/{transaction_id}/meter-values",
        "/api/v1/users",
        "/api/v1/users/{user_id}/tokens",
        "/api/v1/users/{user_id}/tokens/{token_id}",
    ):
        assert path in paths, path
    assert "HTTPBearer" in response.json()["components"]["securitySchemes"]
    docs = await anonymous.get("/api/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def _sample(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = "^" + re.escape(f"{name}{{{label_text}}}" if labels else name) + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match is not None, f"{name} {labels} not in metrics:\n{text}"
    return float(match.group(1))


async def test_metrics_show_connected_stations_messages_and_writer_counters(
    app: App, anonymous: httpx.AsyncClient
) -> None:
    before = await anonymous.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert _sample(before.text, "voltbridge_stations_connected") == 0
    assert "# TYPE voltbridge_meter_rows_written_total counter" in before.text
    await app.stations.register("CP1")
    async with booted(ocpp_url(app), "CP1") as charger:
        await charger.heartbeat()
        during = (await anonymous.get("/metrics")).text
        assert _sample(during, "voltbridge_stations_connected") == 1
        assert _sample(during, "voltbridge_ocpp_calls_received", action="BootNotification") == 1
        assert _sample(during, "voltbridge_ocpp_calls_received", action="Heartbeat") == 1
        assert _sample(during, "voltbridge_meter_rows_written_total") == 0
        assert _sample(during, "voltbridge_bus_events_coalesced_total", subscription="billing-sessions") == 0
        assert "# TYPE voltbridge_bus_events_dropped_total counter" in during

"""/api/v1/transactions: sessions a real charger reported, filters, and meter values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from ocpp.v16 import call

from tests.api.charger import FullCharger, booted
from tests.conftest import ocpp_url
from voltbridge.app import App

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

FIELDS = {
    "id",
    "station_id",
    "connector_id",
    "id_tag",
    "started_at",
    "stopped_at",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_wh",
    "stop_reason",
    "status",
    "flags",
}


def ts(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def start(charger: FullCharger, connector_id: int, id_tag: str, meter_wh: int, at: datetime) -> int:
    answer = await charger.call(
        call.StartTransaction(
            connector_id=connector_id, id_tag=id_tag, meter_start=meter_wh, timestamp=ts(at)
        )
    )
    return int(answer.transaction_id)


async def test_a_charged_session_reads_back_with_energy_and_meter_values(
    app: App, client: httpx.AsyncClient
) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    await client.post("/api/v1/id-tokens", json={"uid": "TAG1"})
    async with booted(ocpp_url(app), "CP1") as charger:
        tx = await start(charger, 1, "TAG1", 1000, T0)
        active = (await client.get(f"/api/v1/transactions/{tx}")).json()
        assert active["status"] == "active" and active["stopped_at"] is None and active["energy_wh"] is None
        await charger.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[
                    {
                        "timestamp": ts(T0 + timedelta(minutes=5)),
                        "sampledValue": [
                            {"value": "2.5005", "unit": "kWh", "measurand": "Energy.Active.Import.Register"},
                            {"value": "7400.5", "unit": "W", "measurand": "Power.Active.Import"},
                        ],
                    }
                ],
            )
        )
        await charger.call(
            call.StopTransaction(
                meter_stop=5500,
                timestamp=ts(T0 + timedelta(minutes=30)),
                transaction_id=tx,
                reason="EVDisconnected",
            )
        )
    response = await client.get(f"/api/v1/transactions/{tx}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS
    assert body == {
        "id": tx,
        "station_id": "CP1",
        "connector_id": 1,
        "id_tag": "TAG1",
        "started_at": ts(T0).replace("Z", ".000Z"),
        "stopped_at": ts(T0 + timedelta(minutes=30)).replace("Z", ".000Z"),
        "meter_start_wh": 1000,
        "meter_stop_wh": 5500,
        "energy_wh": 4500,
        "stop_reason": "EVDisconnected",
        "status": "completed",
        "flags": ["started_offline"],  # stamped an hour before it reached us
    }
    values = (await client.get(f"/api/v1/transactions/{tx}/meter-values")).json()
    assert values["total"] == 2
    energy, power = values["items"]
    assert energy["measurand"] == "Energy.Active.Import.Register"
    assert energy["unit"] == "Wh" and energy["value"] == 2500 and isinstance(energy["value"], int)
    assert energy["raw"] == "2.5005" and energy["at"].endswith("Z") and energy["connector_id"] == 1
    assert power["unit"] == "W" and power["value"] == 7400.5
    page = (
        await client.get(f"/api/v1/transactions/{tx}/meter-values", params={"limit": 1, "offset": 1})
    ).json()
    assert page["total"] == 2 and page["items"] == [power]


async def test_list_filters_by_station_status_id_tag_and_start_time(
    app: App, client: httpx.AsyncClient
) -> None:
    for station in ("CP1", "CP2"):
        await client.post("/api/v1/stations", json={"id": station})
    async with booted(ocpp_url(app), "CP1") as cp1, booted(ocpp_url(app), "CP2") as cp2:
        early = await start(cp1, 1, "TAG1", 0, T0)
        await cp1.call(
            call.StopTransaction(
                meter_stop=100, timestamp=ts(T0 + timedelta(minutes=5)), transaction_id=early
            )
        )
        late = await start(cp1, 2, "TAG2", 0, T0 + timedelta(minutes=20))
        other = await start(cp2, 1, "TAG1", 0, T0 + timedelta(minutes=40))

    async def ids(**params: str) -> list[int]:
        response = await client.get("/api/v1/transactions", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return [t["id"] for t in body["items"]]

    assert await ids() == [other, late, early]  # newest first
    assert await ids(station_id="CP1") == [late, early]
    assert await ids(status="active") == [other, late]
    assert await ids(status="completed") == [early]
    assert await ids(id_tag="TAG1") == [other, early]
    assert await ids(**{"from": ts(T0 + timedelta(minutes=10))}) == [other, late]
    assert await ids(**{"to": ts(T0 + timedelta(minutes=10))}) == [early]
    assert await ids(**{"from": "2000-01-01T00:00:00+01:00", "to": ts(T0 + timedelta(minutes=40))}) == [
        late,
        early,
    ]
    assert await ids(station_id="CP1", status="active", id_tag="TAG2") == [late]
    paged = (await client.get("/api/v1/transactions", params={"limit": 1, "offset": 1})).json()
    assert paged["total"] == 3 and [t["id"] for t in paged["items"]] == [late]
    for params in ({"status": "running"}, {"from": "yesterday"}, {"to": "2025-01-01T00:00:00"}):
        assert (await client.get("/api/v1/transactions", params=params)).status_code == 422, params


async def test_unknown_transaction_is_404(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/transactions/999", "/api/v1/transactions/999/meter-values"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "transaction 999 does not exist"}
    assert (await client.get("/api/v1/transactions/abc")).status_code == 422

"""Commands through `POST /api/v1/stations/{id}/commands/{Action}` to a real 1.6 charger, and the log."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from ocpp.charge_point import camel_to_snake_case
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call_result

from tests.api.charger import FullCharger, SilentCharger, booted, on
from tests.api.conftest import user_client
from tests.conftest import AppFactory, api_url, ocpp_url
from voltbridge.app import App
from voltbridge.core.events import CommandCompleted

PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    },
}

# Every command an OCPP 1.6 central system sends: (action, payload, the test charger's answer).
COMMANDS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1}, {"status": "Accepted"}),
    ("RemoteStopTransaction", {"transactionId": 17}, {"status": "Accepted"}),
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
    ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, {"status": "Accepted"}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, {"status": "Accepted"}),
    (
        "GetConfiguration",
        {"key": ["HeartbeatInterval", "Nope"]},
        {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKey": ["Nope"],
        },
    ),
    ("ClearCache", {}, {"status": "Accepted"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}, {"status": "Accepted"}),
    (
        "DataTransfer",
        {"vendorId": "voltbridge", "messageId": "ping", "data": "hi"},
        {"status": "Accepted", "data": "pong"},
    ),
    (
        "GetDiagnostics",
        {"location": "ftp://diag.example.com/up", "retries": 2},
        {"fileName": "diagnostics.zip"},
    ),
    (
        "UpdateFirmware",
        {"location": "https://fw.example.com/2.0.bin", "retrieveDate": "2030-01-01T00:00:00Z"},
        {},
    ),
    (
        "SendLocalList",
        {
            "listVersion": 4,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "TAG1", "idTagInfo": {"status": "Accepted"}}],
        },
        {"status": "Accepted"},
    ),
    ("GetLocalListVersion", {}, {"listVersion": 3}),
    (
        "ReserveNow",
        {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "TAG1", "reservationId": 7},
        {"status": "Accepted"},
    ),
    ("CancelReservation", {"reservationId": 7}, {"status": "Accepted"}),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE}, {"status": "Accepted"}),
    ("ClearChargingProfile", {"id": 1}, {"status": "Accepted"}),
    (
        "GetCompositeSchedule",
        {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"},
        {"status": "Rejected"},
    ),
]


@pytest.mark.parametrize(("action", "payload", "answer"), COMMANDS, ids=[c[0] for c in COMMANDS])
async def test_every_16_command_reaches_the_charger_and_is_logged(
    app: App, client: httpx.AsyncClient, action: str, payload: dict[str, Any], answer: dict[str, Any]
) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    async with booted(ocpp_url(app), "CP1") as charger:
        response = await client.post(f"/api/v1/stations/CP1/commands/{action}", json=payload)
        assert response.status_code == 200, response.text
        assert response.json() == answer
        assert charger.received[-1] == (action, camel_to_snake_case(payload))
    log = (await client.get("/api/v1/stations/CP1/commands")).json()
    assert log["total"] == 1
    entry = log["items"][0]
    assert entry["action"] == action and entry["payload"] == payload
    assert entry["status"] == "answered" and entry["response"] == answer
    assert entry["source"] == "api" and entry["requested_by"] == "admin-token"
    assert entry["created_at"].endswith("Z") and entry["completed_at"].endswith("Z")
    assert entry["error_code"] is None
    assert (await client.get("/api/v1/commands")).json()["items"] == [entry]


async def test_a_command_without_a_body_sends_an_empty_payload(app: App, client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    async with booted(ocpp_url(app), "CP1") as charger:
        response = await client.post("/api/v1/stations/CP1/commands/ClearCache")
        assert response.status_code == 200 and response.json() == {"status": "Accepted"}
        assert charger.received[-1] == ("ClearCache", {})


async def test_command_to_a_station_that_is_not_connected_is_409(app: App, client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    response = await client.post("/api/v1/stations/CP1/commands/Reset", json={"type": "Hard"})
    assert response.status_code == 409
    assert response.json() == {"detail": "station 'CP1' is not connected; Reset was not sent"}
    entry = (await client.get("/api/v1/commands")).json()["items"][0]
    assert entry["status"] == "offline" and entry["response"] is None


async def test_invalid_commands_are_422_and_unknown_stations_404(app: App, client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    async with booted(ocpp_url(app), "CP1") as charger:
        cases = [
            ("Reset", {"type": "Sideways"}),
            ("Reset", {}),
            ("RemoteStartTransaction", {"idTag": "x" * 21}),
            ("FlyToTheMoon", {}),
            (
                "BootNotification",
                {"chargePointVendor": "V", "chargePointModel": "M"},
            ),  # only chargers send it
        ]
        for action, payload in cases:
            response = await client.post(f"/api/v1/stations/CP1/commands/{action}", json=payload)
            assert response.status_code == 422, (action, response.text)
            assert action in response.json()["detail"]
        assert (await client.post("/api/v1/stations/CP1/commands/Re-set", json={})).status_code == 422
        assert (await client.post("/api/v1/stations/CP1/commands/Reset", json=["Soft"])).status_code == 422
        malformed = await client.post(
            "/api/v1/stations/CP1/commands/Reset",
            content=b"{type: Soft",
            headers={"Content-Type": "application/json"},
        )
        assert malformed.status_code == 400 and malformed.json() == {
            "detail": "the request body is not valid JSON"
        }
        assert charger.received == []
    unknown = await client.post("/api/v1/stations/NOPE/commands/Reset", json={"type": "Soft"})
    assert unknown.status_code == 404 and unknown.json() == {"detail": "station 'NOPE' does not exist"}
    assert (await client.get("/api/v1/stations/NOPE/commands")).status_code == 404


async def test_a_charger_that_does_not_answer_gives_504(make_app: AppFactory) -> None:
    app = await make_app(command_timeout=0.5)
    async with httpx.AsyncClient(
        base_url=api_url(app), headers={"Authorization": "Bearer test-admin-token"}
    ) as client:
        await client.post("/api/v1/stations", json={"id": "CP1"})
        async with booted(ocpp_url(app), "CP1", SilentCharger) as charger:
            response = await client.post("/api/v1/stations/CP1/commands/Reset", json={"type": "Soft"})
            assert charger.asked.is_set()
        assert response.status_code == 504
        assert response.json() == {"detail": "station 'CP1' did not answer Reset within 0.5 s"}
        assert (await client.get("/api/v1/commands")).json()["items"][0]["status"] == "timeout"


class GrumpyCharger(FullCharger):
    """Refuses Reset with a CALLERROR."""

    @on("Reset")
    async def on_reset(self, **kw: Any) -> call_result.Reset:
        raise NotSupportedError(description="resets are disabled on this unit")


async def test_a_callerror_from_the_charger_is_502_with_its_code(app: App, client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    async with booted(ocpp_url(app), "CP1", GrumpyCharger):
        response = await client.post("/api/v1/stations/CP1/commands/Reset", json={"type": "Soft"})
    assert response.status_code == 502
    assert response.json() == {
        "detail": "station 'CP1' answered Reset with NotSupported: resets are disabled on this unit",
        "error_code": "NotSupported",
        "error_description": "resets are disabled on this unit",
    }
    entry = (await client.get("/api/v1/commands")).json()["items"][0]
    assert entry["status"] == "callerror"
    assert entry["error_code"] == "NotSupported"
    assert entry["error_description"] == "resets are disabled on this unit"


async def test_too_many_waiting_commands_are_503(make_app: AppFactory) -> None:
    app = await make_app(command_timeout=30)
    headers = {"Authorization": "Bearer test-admin-token"}
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=api_url(app), headers=headers, limits=limits, timeout=60) as client:
        await client.post("/api/v1/stations", json={"id": "CP1"})
        completed: asyncio.Queue[CommandCompleted] = asyncio.Queue()

        async def note(event: CommandCompleted) -> None:
            await completed.put(event)

        app.bus.subscribe(CommandCompleted, note, name="test-completed")
        async with booted(ocpp_url(app), "CP1", SilentCharger) as charger:
            # One Reset is in flight and never answered; the connection queues up to 100 behind it.
            send = client.post("/api/v1/stations/CP1/commands/Reset", json={"type": "Soft"})
            tasks = [asyncio.create_task(send) for _ in range(1)]
            await charger.asked.wait()
            tasks += [
                asyncio.create_task(client.post("/api/v1/stations/CP1/commands/ClearCache"))
                for _ in range(101)
            ]
            busy = await asyncio.wait_for(completed.get(), 30)
            assert busy.status == "busy"
            charger.release.set()
            responses = await asyncio.gather(*tasks)
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(503) == 1 and statuses.count(200) == 101
        refused = next(r for r in responses if r.status_code == 503)
        assert refused.headers["Retry-After"] == "1"
        assert "too many commands waiting" in refused.json()["detail"]


async def test_read_only_user_may_read_the_log_but_not_send(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/stations", json={"id": "CP1"})
    async with await user_client(client, email="viewer@example.com", role="admin", read_only=True) as viewer:
        assert (
            await viewer.post("/api/v1/stations/CP1/commands/Reset", json={"type": "Soft"})
        ).status_code == 403
        assert (await viewer.get("/api/v1/commands")).status_code == 200
        assert (await viewer.get("/api/v1/stations/CP1/commands")).json() == {"items": [], "total": 0}


async def test_command_log_is_newest_first_filtered_and_paged(app: App, client: httpx.AsyncClient) -> None:
    for station in ("CP1", "CP2"):
        await client.post("/api/v1/stations", json={"id": station})
    async with booted(ocpp_url(app), "CP1"), booted(ocpp_url(app), "CP2"):
        for station, action in (("CP1", "ClearCache"), ("CP2", "ClearCache"), ("CP1", "GetLocalListVersion")):
            assert (await client.post(f"/api/v1/stations/{station}/commands/{action}")).status_code == 200
    everything = (await client.get("/api/v1/commands")).json()
    assert everything["total"] == 3
    assert [(e["station_id"], e["action"]) for e in everything["items"]] == [
        ("CP1", "GetLocalListVersion"),
        ("CP2", "ClearCache"),
        ("CP1", "ClearCache"),
    ]
    cp1 = (await client.get("/api/v1/commands", params={"station_id": "CP1", "limit": 1, "offset": 1})).json()
    assert cp1["total"] == 2 and [e["action"] for e in cp1["items"]] == ["ClearCache"]
    assert (await client.get("/api/v1/stations/CP2/commands")).json()["total"] == 1

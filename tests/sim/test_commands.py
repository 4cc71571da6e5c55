"""Every command an OCPP 1.6 backend can send (Core, FirmwareManagement, LocalAuthListManagement,
Reservation, SmartCharging, RemoteTrigger) is answered, and does what it says."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from tests.sim.central import CentralSystem
from tests.sim.conftest import MakeCharger
from voltbridge.sim import SimulatedCharger

Scenario = Callable[[CentralSystem, SimulatedCharger], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}

# What a 1.6 central system can ask of a charge point in the six feature profiles.
PROFILE_COMMANDS = {
    "ChangeAvailability", "ChangeConfiguration", "ClearCache", "DataTransfer", "GetConfiguration",
    "RemoteStartTransaction", "RemoteStopTransaction", "Reset", "UnlockConnector",  # Core
    "GetDiagnostics", "UpdateFirmware",  # FirmwareManagement
    "GetLocalListVersion", "SendLocalList",  # LocalAuthListManagement
    "ReserveNow", "CancelReservation",  # Reservation
    "SetChargingProfile", "ClearChargingProfile", "GetCompositeSchedule",  # SmartCharging
    "TriggerMessage",  # RemoteTrigger
}  # fmt: skip

ID = "CP0001"


def scenario(action: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[action] = function
        return function

    return register


def in_seconds(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_of(connector_id: int, status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda p: bool(p["connector_id"] == connector_id and p["status"] == status)


def profile(
    profile_id: int, purpose: str, periods: list[tuple[int, float]], *, unit: str = "A", stack_level: int = 0
) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative" if purpose == "TxProfile" else "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [{"startPeriod": start, "limit": limit} for start, limit in periods],
        },
    }


@scenario("ChangeAvailability")
async def change_availability(central: CentralSystem, charger: SimulatedCharger) -> None:
    since = len(central.messages)
    answer = await central.send(ID, call.ChangeAvailability(connector_id=1, type="Inoperative"))
    assert answer.status == "Accepted"
    await central.message(ID, "StatusNotification", status_of(1, "Unavailable"), since=since)
    assert await charger.start_session(1) is None
    assert (
        await central.send(ID, call.ChangeAvailability(connector_id=9, type="Inoperative"))
    ).status == "Rejected"
    # During a session the change waits for its end, and the answer says so.
    tx = await charger.start_session(2)
    assert tx is not None
    answer = await central.send(ID, call.ChangeAvailability(connector_id=2, type="Inoperative"))
    assert answer.status == "Scheduled"
    await charger.stop_session(2)
    await central.message(ID, "StatusNotification", status_of(2, "Unavailable"), since=since)
    answer = await central.send(ID, call.ChangeAvailability(connector_id=0, type="Operative"))
    assert answer.status == "Accepted"
    await central.message(ID, "StatusNotification", status_of(1, "Available"), since=since)


@scenario("ChangeConfiguration")
async def change_configuration(central: CentralSystem, charger: SimulatedCharger) -> None:
    async def change(key: str, value: str) -> str:
        return str((await central.send(ID, call.ChangeConfiguration(key=key, value=value))).status)

    assert await change("MeterValueSampleInterval", "30") == "Accepted"
    assert await change("heartbeatinterval", "120") == "Accepted"  # keys are case-insensitive
    assert await change("NumberOfConnectors", "5") == "Rejected"  # read-only
    assert await change("HeartbeatInterval", "soon") == "Rejected"  # not a number
    assert await change("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus") == "Rejected"
    assert await change("NoSuchKey", "1") == "NotSupported"
    assert await change("WebSocketPingInterval", "30") == "RebootRequired"
    answer = await central.send(
        ID, call.GetConfiguration(key=["MeterValueSampleInterval", "HeartbeatInterval"])
    )
    values = {entry["key"]: entry["value"] for entry in answer.configuration_key}
    assert values == {"MeterValueSampleInterval": "30", "HeartbeatInterval": "120"}


@scenario("ClearCache")
async def clear_cache(central: CentralSystem, charger: SimulatedCharger) -> None:
    tx = await charger.start_session(1, "CACHED")
    assert tx is not None
    assert charger.station.auth_cache.lookup("CACHED") is not None
    assert (await central.send(ID, call.ClearCache())).status == "Accepted"
    assert charger.station.auth_cache.lookup("CACHED") is None
    await central.send(ID, call.ChangeConfiguration(key="AuthorizationCacheEnabled", value="false"))
    assert (await central.send(ID, call.ClearCache())).status == "Rejected"


@scenario("DataTransfer")
async def data_transfer(central: CentralSystem, charger: SimulatedCharger) -> None:
    echo = await central.send(ID, call.DataTransfer(vendor_id="voltbridge", message_id="Echo", data="hello"))
    assert (echo.status, echo.data) == ("Accepted", "hello")
    other = await central.send(ID, call.DataTransfer(vendor_id="voltbridge", message_id="Frobnicate"))
    assert other.status == "UnknownMessageId"
    stranger = await central.send(ID, call.DataTransfer(vendor_id="com.example"))
    assert stranger.status == "UnknownVendorId"
    assert charger.station.data_transfers[0] == ("voltbridge", "Echo", "hello")


@scenario("GetConfiguration")
async def get_configuration(central: CentralSystem, charger: SimulatedCharger) -> None:
    answer = await central.send(
        ID, call.GetConfiguration(key=["NumberOfConnectors", "AuthorizeRemoteTxRequests", "Nope"])
    )
    entries = {entry["key"]: entry for entry in answer.configuration_key}
    assert entries["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True, "value": "2"}
    assert entries["AuthorizeRemoteTxRequests"]["readonly"] is False
    assert answer.unknown_key == ["Nope"]
    everything = await central.send(ID, call.GetConfiguration())
    keys = {entry["key"] for entry in everything.configuration_key}
    assert {"HeartbeatInterval", "MeterValueSampleInterval", "SupportedFeatureProfiles"} <= keys
    assert everything.unknown_key is None


@scenario("RemoteStartTransaction")
async def remote_start(central: CentralSystem, charger: SimulatedCharger) -> None:
    tx_profile = profile(7, "TxProfile", [(0, 10.0)])
    answer = await central.send(
        ID, call.RemoteStartTransaction(id_tag="REMOTE", connector_id=2, charging_profile=tx_profile)
    )
    assert answer.status == "Accepted"
    start = await central.message(ID, "StartTransaction")
    assert (start["connector_id"], start["id_tag"]) == (2, "REMOTE")
    await charger.wait_for(lambda c: c.station.active_transaction(2) is not None)
    tx = charger.station.active_transaction(2)
    assert tx is not None and tx.remote and tx.transaction_id == central.last_transaction_id
    # AuthorizeRemoteTxRequests is false: no Authorize before a remote start.
    assert central.of(ID, "Authorize") == []
    await central.message(ID, "StatusNotification", status_of(2, "Charging"))
    installed = [p for p in charger.station.profiles.profiles if p.purpose == "TxProfile"]
    assert [(p.id, p.transaction_id) for p in installed] == [(7, tx.transaction_id)]
    busy = await central.send(ID, call.RemoteStartTransaction(id_tag="OTHER", connector_id=2))
    assert busy.status == "Rejected"
    # Without a connector the charger picks a free one.
    assert (await central.send(ID, call.RemoteStartTransaction(id_tag="ANY"))).status == "Accepted"
    await charger.wait_for(lambda c: c.station.active_transaction(1) is not None)


@scenario("RemoteStopTransaction")
async def remote_stop(central: CentralSystem, charger: SimulatedCharger) -> None:
    assert (await central.send(ID, call.RemoteStopTransaction(transaction_id=999))).status == "Rejected"
    tx = await charger.start_session(1)
    assert tx is not None
    answer = await central.send(ID, call.RemoteStopTransaction(transaction_id=tx.transaction_id))
    assert answer.status == "Accepted"
    stop = await central.message(ID, "StopTransaction")
    assert (stop["transaction_id"], stop["reason"]) == (tx.transaction_id, "Remote")


@scenario("Reset")
async def reset(central: CentralSystem, charger: SimulatedCharger) -> None:
    tx = await charger.start_session(1)
    assert tx is not None
    assert (await central.send(ID, call.Reset(type="Soft"))).status == "Accepted"
    stop = await central.message(ID, "StopTransaction")
    assert stop["reason"] == "SoftReset"
    await charger.wait_for(lambda c: c.boot_count == 2 and c.booted)
    assert charger.connect_count == 2
    # A hard reset drops the socket at once; the StopTransaction follows the next boot.
    hard_tx = await charger.start_session(2)
    assert hard_tx is not None
    since = len(central.messages)
    assert (await central.send(ID, call.Reset(type="Hard"))).status == "Accepted"
    stop = await central.message(ID, "StopTransaction", since=since)
    assert (stop["transaction_id"], stop["reason"]) == (hard_tx.transaction_id, "HardReset")
    actions = [m.action for m in central.messages[since:]]
    assert actions.index("BootNotification") < actions.index("StopTransaction")
    await charger.wait_for(lambda c: c.boot_count == 3)


@scenario("UnlockConnector")
async def unlock_connector(central: CentralSystem, charger: SimulatedCharger) -> None:
    assert (await central.send(ID, call.UnlockConnector(connector_id=1))).status == "Unlocked"
    tx = await charger.start_session(1)
    assert tx is not None
    assert (await central.send(ID, call.UnlockConnector(connector_id=1))).status == "Unlocked"
    stop = await central.message(ID, "StopTransaction")
    assert stop["reason"] == "UnlockCommand"
    assert (await central.send(ID, call.UnlockConnector(connector_id=7))).status == "NotSupported"


@scenario("GetDiagnostics")
async def get_diagnostics(central: CentralSystem, charger: SimulatedCharger) -> None:
    answer = await central.send(ID, call.GetDiagnostics(location="ftp://logs.example.com/upload/"))
    assert answer.file_name.startswith("CP0001-diagnostics-")
    await central.message(ID, "DiagnosticsStatusNotification", lambda p: p["status"] == "Uploaded")
    statuses = [p["status"] for p in central.of(ID, "DiagnosticsStatusNotification")]
    assert statuses == ["Uploading", "Uploaded"]
    await central.send(ID, call.GetDiagnostics(location="gopher://nowhere/"))
    await central.message(ID, "DiagnosticsStatusNotification", lambda p: p["status"] == "UploadFailed")


@scenario("UpdateFirmware")
async def update_firmware(central: CentralSystem, charger: SimulatedCharger) -> None:
    location = "https://firmware.example.com/fw-2.1.0.bin"
    answer = await central.send(ID, call.UpdateFirmware(location=location, retrieve_date=in_seconds(0)))
    assert answer is not None
    await central.message(ID, "FirmwareStatusNotification", lambda p: p["status"] == "Installed")
    statuses = [p["status"] for p in central.of(ID, "FirmwareStatusNotification")]
    assert statuses == ["Downloading", "Downloaded", "Installing", "Installed"]
    # The charger reboots on the new firmware.
    boot = await central.message(ID, "BootNotification", lambda p: p.get("firmware_version") == "2.1.0")
    assert boot["charge_point_vendor"] == "voltbridge"
    await charger.wait_for(lambda c: c.boot_count == 2)


@scenario("GetLocalListVersion")
async def get_local_list_version(central: CentralSystem, charger: SimulatedCharger) -> None:
    assert (await central.send(ID, call.GetLocalListVersion())).list_version == 0
    entries = [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}]
    await central.send(
        ID, call.SendLocalList(list_version=5, update_type="Full", local_authorization_list=entries)
    )
    assert (await central.send(ID, call.GetLocalListVersion())).list_version == 5
    await central.send(ID, call.ChangeConfiguration(key="LocalAuthListEnabled", value="false"))
    assert (await central.send(ID, call.GetLocalListVersion())).list_version == -1


@scenario("SendLocalList")
async def send_local_list(central: CentralSystem, charger: SimulatedCharger) -> None:
    full = [
        {"idTag": "LOCAL", "idTagInfo": {"status": "Accepted"}},
        {"idTag": "GONE", "idTagInfo": {"status": "Blocked"}},
    ]
    answer = await central.send(
        ID, call.SendLocalList(list_version=1, update_type="Full", local_authorization_list=full)
    )
    assert answer.status == "Accepted"
    stale = await central.send(ID, call.SendLocalList(list_version=1, update_type="Differential"))
    assert stale.status == "VersionMismatch"
    remove = [{"idTag": "GONE"}]
    answer = await central.send(
        ID, call.SendLocalList(list_version=2, update_type="Differential", local_authorization_list=remove)
    )
    assert answer.status == "Accepted"
    assert set(charger.station.local_list.entries) == {"LOCAL"}
    # With LocalPreAuthorize a tag on the list starts at once, without asking the backend.
    await central.send(ID, call.ChangeConfiguration(key="LocalPreAuthorize", value="true"))
    tx = await charger.start_session(1, "LOCAL")
    assert tx is not None
    assert central.of(ID, "Authorize") == []


@scenario("ReserveNow")
async def reserve_now(central: CentralSystem, charger: SimulatedCharger) -> None:
    answer = await central.send(
        ID, call.ReserveNow(connector_id=1, expiry_date=in_seconds(60), id_tag="MINE", reservation_id=11)
    )
    assert answer.status == "Accepted"
    await central.message(ID, "StatusNotification", status_of(1, "Reserved"))
    assert await charger.start_session(1, "SOMEONE-ELSE") is None
    tx = await charger.start_session(1, "MINE")
    assert tx is not None and tx.reservation_id == 11
    start = await central.message(ID, "StartTransaction")
    assert start["reservation_id"] == 11
    occupied = await central.send(
        ID, call.ReserveNow(connector_id=1, expiry_date=in_seconds(60), id_tag="LATE", reservation_id=12)
    )
    assert occupied.status == "Occupied"
    # A reservation that nobody uses expires and frees its connector.
    since = len(central.messages)
    await central.send(
        ID, call.ReserveNow(connector_id=2, expiry_date=in_seconds(0.2), id_tag="NOSHOW", reservation_id=13)
    )
    await central.message(ID, "StatusNotification", status_of(2, "Available"), since=since)
    assert 13 not in charger.station.reservations


@scenario("CancelReservation")
async def cancel_reservation(central: CentralSystem, charger: SimulatedCharger) -> None:
    assert (await central.send(ID, call.CancelReservation(reservation_id=404))).status == "Rejected"
    await central.send(
        ID, call.ReserveNow(connector_id=2, expiry_date=in_seconds(60), id_tag="MINE", reservation_id=21)
    )
    since = len(central.messages)
    assert (await central.send(ID, call.CancelReservation(reservation_id=21))).status == "Accepted"
    await central.message(ID, "StatusNotification", status_of(2, "Available"), since=since)
    assert charger.station.reservations == {}


@scenario("SetChargingProfile")
async def set_charging_profile(central: CentralSystem, charger: SimulatedCharger) -> None:
    async def send(connector_id: int, body: dict[str, Any]) -> str:
        answer = await central.send(
            ID, call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=body)
        )
        return str(answer.status)

    assert await send(1, profile(1, "TxDefaultProfile", [(0, 16.0)])) == "Accepted"
    assert await send(1, profile(2, "TxProfile", [(0, 10.0)])) == "Rejected"  # no transaction
    assert await send(1, profile(3, "ChargePointMaxProfile", [(0, 20.0)])) == "Rejected"  # only on 0
    assert await send(0, profile(3, "ChargePointMaxProfile", [(0, 20.0)])) == "Accepted"
    assert await send(1, profile(4, "TxDefaultProfile", [(0, 8.0)], stack_level=99)) == "Rejected"
    tx = await charger.start_session(1)
    assert tx is not None
    assert await send(1, profile(5, "TxProfile", [(0, 6.0)])) == "Accepted"
    # The meter follows the limit: 6 A on three phases at 230 V.
    await charger.wait_for(lambda c: tx.meter_values_sent >= 2)
    assert charger.station.meter(1).offered_w == pytest.approx(6 * 230 * 3)


@scenario("ClearChargingProfile")
async def clear_charging_profile(central: CentralSystem, charger: SimulatedCharger) -> None:
    body = profile(9, "TxDefaultProfile", [(0, 16.0)])
    await central.send(ID, call.SetChargingProfile(connector_id=1, cs_charging_profiles=body))
    assert (await central.send(ID, call.ClearChargingProfile(id=9))).status == "Accepted"
    assert (await central.send(ID, call.ClearChargingProfile(id=9))).status == "Unknown"
    await central.send(ID, call.SetChargingProfile(connector_id=2, cs_charging_profiles=body))
    answer = await central.send(ID, call.ClearChargingProfile(charging_profile_purpose="TxDefaultProfile"))
    assert answer.status == "Accepted"
    assert charger.station.profiles.profiles == []


@scenario("GetCompositeSchedule")
async def get_composite_schedule(central: CentralSystem, charger: SimulatedCharger) -> None:
    # 13 A on three phases is 8970 W, below the connector's own 11 kW.
    body = profile(1, "TxDefaultProfile", [(0, 13.0), (1800, 10.0)])
    body["chargingSchedule"]["startSchedule"] = in_seconds(-1).split(".")[0] + "Z"
    await central.send(ID, call.SetChargingProfile(connector_id=0, cs_charging_profiles=body))
    answer = await central.send(
        ID, call.GetCompositeSchedule(connector_id=1, duration=3600, charging_rate_unit="A")
    )
    assert (answer.status, answer.connector_id) == ("Accepted", 1)
    schedule = answer.charging_schedule
    assert schedule["charging_rate_unit"] == "A" and schedule["duration"] == 3600
    limits = [float(p["limit"]) for p in schedule["charging_schedule_period"]]
    assert limits == [13.0, 10.0]
    assert 1797 <= schedule["charging_schedule_period"][1]["start_period"] <= 1800
    watts = await central.send(
        ID, call.GetCompositeSchedule(connector_id=1, duration=60, charging_rate_unit="W")
    )
    assert [float(p["limit"]) for p in watts.charging_schedule["charging_schedule_period"]] == [13 * 230 * 3]
    assert (
        await central.send(ID, call.GetCompositeSchedule(connector_id=5, duration=60))
    ).status == "Rejected"


@scenario("TriggerMessage")
async def trigger_message(central: CentralSystem, charger: SimulatedCharger) -> None:
    tx = await charger.start_session(1)
    assert tx is not None
    since = len(central.messages)
    answer = await central.send(ID, call.TriggerMessage(requested_message="MeterValues", connector_id=1))
    assert answer.status == "Accepted"
    triggered = await central.message(
        ID,
        "MeterValues",
        lambda p: p["meter_value"][0]["sampled_value"][0]["context"] == "Trigger",
        since=since,
    )
    assert (triggered["connector_id"], triggered["transaction_id"]) == (1, tx.transaction_id)
    rejected = await central.send(ID, call.TriggerMessage(requested_message="Heartbeat", connector_id=5))
    assert rejected.status == "Rejected"


@pytest.mark.parametrize("action", sorted(SCENARIOS))
async def test_command_is_answered_and_acted_on(
    action: str, central: CentralSystem, make_charger: MakeCharger
) -> None:
    charger = make_charger(ID)
    async with charger.running():
        await charger.wait_for(lambda c: c.booted)
        await central.message(ID, "StatusNotification", status_of(2, "Available"))
        await SCENARIOS[action](central, charger)
        assert charger.counters.received[action] >= 1
        assert charger.counters.replied[action] == charger.counters.received[action]


def test_every_command_of_the_six_profiles_has_a_scenario() -> None:
    assert set(SCENARIOS) == PROFILE_COMMANDS


@pytest.mark.parametrize(
    ("requested", "action"),
    [
        ("BootNotification", "BootNotification"),
        ("Heartbeat", "Heartbeat"),
        ("StatusNotification", "StatusNotification"),
        ("MeterValues", "MeterValues"),
        ("DiagnosticsStatusNotification", "DiagnosticsStatusNotification"),
        ("FirmwareStatusNotification", "FirmwareStatusNotification"),
    ],
)
async def test_trigger_message_sends_the_requested_message(
    requested: str, action: str, central: CentralSystem, make_charger: MakeCharger
) -> None:
    charger = make_charger(ID)
    async with charger.running():
        await charger.wait_for(lambda c: c.booted)
        await central.message(ID, "StatusNotification", status_of(2, "Available"))
        since = len(central.messages)
        answer = await central.send(ID, call.TriggerMessage(requested_message=requested))
        assert answer.status == "Accepted"
        payload = await central.message(ID, action, since=since)
        if action in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
            assert payload["status"] == "Idle"
        # The answer went out before the triggered message (the ocpp package records the CALL first).
        assert central.messages[since].action == action

"""A simulated charger against a central system built on the ocpp package: boot, status, heartbeat,
sessions with meter values, authentication, reconnects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ocpp.v16 import call

from tests.sim.central import CentralSystem
from tests.sim.conftest import MakeCharger


def connector_is(connector_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda payload: bool(payload["connector_id"] == connector_id)


async def test_boots_reports_every_connector_and_heartbeats(
    central: CentralSystem, make_charger: MakeCharger
) -> None:
    central.heartbeat_interval = 1
    charger = make_charger("CP0001", connectors=2, vendor="acme", model="wallbox-9")
    async with charger.running():
        boot = await central.message("CP0001", "BootNotification")
        assert boot["charge_point_vendor"] == "acme"
        assert boot["charge_point_model"] == "wallbox-9"
        statuses = [await central.message("CP0001", "StatusNotification", connector_is(n)) for n in (0, 1, 2)]
        assert [s["status"] for s in statuses] == ["Available"] * 3
        await central.message("CP0001", "Heartbeat")
        await charger.wait_for(lambda c: c.counters.answered["Heartbeat"] >= 1)
    assert charger.boot_count == 1
    assert charger.station.configuration.get("HeartbeatInterval") == "1"
    assert charger.errors == 0


async def test_pending_boot_is_retried_after_the_interval(
    central: CentralSystem, make_charger: MakeCharger
) -> None:
    central.boot_statuses = ["Pending", "Rejected"]
    charger = make_charger()
    async with charger.running():
        await charger.wait_for(lambda c: c.booted)
        await central.message("CP0001", "StatusNotification")
        assert len(central.of("CP0001", "BootNotification")) == 3
        # Nothing but BootNotification went out before the boot was accepted.
        first_status = next(i for i, m in enumerate(central.messages) if m.action == "StatusNotification")
        assert all(m.action == "BootNotification" for m in central.messages[:first_status])


async def test_session_sends_meter_values_and_stops_with_transaction_data(
    central: CentralSystem, make_charger: MakeCharger
) -> None:
    charger = make_charger(max_power_w=7_360.0, phases=1)
    async with charger.running():
        await charger.wait_for(lambda c: c.booted)
        tx = await charger.start_session(1, "TAG-1")
        assert tx is not None and tx.active
        start = await central.message("CP0001", "StartTransaction")
        assert start["connector_id"] == 1 and start["id_tag"] == "TAG-1"
        assert tx.transaction_id == central.last_transaction_id
        await central.message("CP0001", "Authorize", lambda p: p["id_tag"] == "TAG-1")
        begin = await central.message(
            "CP0001",
            "MeterValues",
            lambda p: p["meter_value"][0]["sampled_value"][0]["context"] == "Transaction.Begin",
        )
        assert begin["transaction_id"] == tx.transaction_id
        await charger.wait_for(lambda c: tx.meter_values_sent >= 3)
        periodic = [
            p
            for p in central.of("CP0001", "MeterValues")
            if p["meter_value"][0]["sampled_value"][0]["context"] == "Sample.Periodic"
        ]
        sample = {
            (v["measurand"], v.get("phase")): v for v in periodic[-1]["meter_value"][0]["sampled_value"]
        }
        assert sample[("Energy.Active.Import.Register", None)]["unit"] == "Wh"
        assert sample[("Power.Active.Import", None)]["value"] == "7360"
        assert sample[("Current.Import", "L1")]["value"] == "32.0"
        assert sample[("Voltage", "L1-N")]["value"] == "230.0"
        assert sample[("SoC", None)]["unit"] == "Percent"
        registers = [
            int(v["value"])
            for p in central.of("CP0001", "MeterValues")
            for v in p["meter_value"][0]["sampled_value"]
            if v["measurand"] == "Energy.Active.Import.Register"
        ]
        assert registers == sorted(registers)

        stopped = await charger.stop_session(1, "Local")
        assert stopped is tx and not tx.active
        stop = await central.message("CP0001", "StopTransaction")
        assert stop["transaction_id"] == tx.transaction_id
        assert stop["reason"] == "Local"
        assert stop["meter_stop"] == tx.meter_stop_wh >= start["meter_start"]
        contexts = [data["sampled_value"][0]["context"] for data in stop["transaction_data"]]
        assert contexts == ["Transaction.Begin", "Transaction.End"]
        await central.message("CP0001", "StatusNotification", lambda p: p["status"] == "Finishing")
        await charger.wait_for(lambda c: c.station.connector(1).status == "Available")
        assert tx.stop_sent


async def test_automatic_sessions_end_after_their_duration_and_begin_again(
    central: CentralSystem, make_charger: MakeCharger
) -> None:
    charger = make_charger(connectors=1, auto_sessions=True, session_duration=0.2, idle_duration=0.05)
    async with charger.running():
        await charger.wait_for(lambda c: sum(1 for tx in c.transactions if tx.stop_sent) >= 2)
    stops = central.of("CP0001", "StopTransaction")
    assert [stop["reason"] for stop in stops[:2]] == ["EVDisconnected", "EVDisconnected"]


async def test_blocked_tag_gets_no_session(central: CentralSystem, make_charger: MakeCharger) -> None:
    central.blocked_tags.add("STOLEN")
    charger = make_charger()
    async with charger.running():
        await charger.wait_for(lambda c: c.booted)
        assert await charger.start_session(1, "STOLEN") is None
        assert charger.station.connector(1).status == "Available"
        assert central.of("CP0001", "StartTransaction") == []


async def test_basic_auth_password_is_sent_and_a_wrong_one_refused(
    central: CentralSystem, make_charger: MakeCharger
) -> None:
    central.passwords["CP0002"] = "s3cret"
    good = make_charger("CP0002", password="s3cret")
    async with good.running():
        await good.wait_for(lambda c: c.booted)
    bad = make_charger("CP0003", password="nope")
    central.passwords["CP0003"] = "s3cret"
    async with bad.running():
        await bad.wait_for(lambda c: c.errors >= 1)
        assert bad.last_error is not None and "HTTP 401" in bad.last_error
        assert not bad.connected


async def test_reconnects_and_boots_again_when_the_backend_drops_it(
    central: CentralSystem, make_charger: MakeCharger
) -> None:
    charger = make_charger()
    async with charger.running():
        await charger.wait_for(lambda c: c.booted)
        tx = await charger.start_session(1)
        assert tx is not None
        await central.endpoints["CP0001"]._connection.close()
        await charger.wait_for(lambda c: c.boot_count == 2)
        assert charger.connect_count == 2
        # The session went on through the outage and still reports its meter values.
        sent = tx.meter_values_sent
        await charger.wait_for(lambda c: tx.meter_values_sent > sent)
        assert tx.active


async def test_charger_can_send_a_data_transfer_of_its_own(
    central: CentralSystem, make_charger: MakeCharger
) -> None:
    charger = make_charger()
    async with charger.running():
        await charger.wait_for(lambda c: c.booted)
        answer = await charger.call(call.DataTransfer(vendor_id="voltbridge", message_id="Ping", data="42"))
        assert answer.status == "Accepted" and answer.data == "42"

"""End to end: a real 1.6 charger (the `ocpp` package) talks to a running voltbridge over WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from ocpp.v16 import call
from sqlalchemy import select

from tests.chargers import connected
from tests.conftest import AppFactory, ocpp_url
from voltbridge.app import App
from voltbridge.core.tokens.service import TokenChange
from voltbridge.core.transactions.service import TransactionFilter
from voltbridge.store.models import MeterValue, StationEvent


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def app(make_app: AppFactory) -> App:
    """The gateway alone (no HTTP): these tests talk OCPP only."""
    return await make_app(http=False)


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


async def events(app: App, station_id: str, kind: str) -> list[StationEvent]:
    async with app.db.read() as s:
        return list(
            await s.scalars(
                select(StationEvent).where(StationEvent.station_id == station_id, StationEvent.kind == kind)
            )
        )


async def test_boot_of_a_registered_station_is_accepted_with_the_interval(app: App) -> None:
    await app.stations.register("CP1")
    async with connected(ocpp_url(app), "CP1") as cp:
        answer = await cp.boot()
        assert answer.status == "Accepted"
        assert answer.interval == app.settings.heartbeat_interval
        station = await app.stations.get("CP1")
        assert station.vendor == "TestVendor" and station.model == "TestModel"
        assert station.connected_node is not None


async def test_unknown_station_is_pending_or_refused_by_policy(make_app: AppFactory) -> None:
    pending = await make_app(http=False, unknown_stations="pending")
    async with connected(ocpp_url(pending), "STRANGER") as cp:
        answer = await cp.boot()
        assert answer.status == "Pending"
        assert answer.interval == pending.settings.pending_retry_interval
    strict = await make_app(http=False, unknown_stations="reject")
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connected(ocpp_url(strict), "STRANGER2"):
            pass
    assert refused.value.response.status_code == 404


async def test_rejected_station_is_told_so_at_boot(app: App) -> None:
    from voltbridge.core.stations.service import StationUpdate

    await app.stations.register("CP1")
    await app.stations.update("CP1", StationUpdate(registration_status="Rejected"))
    async with connected(ocpp_url(app), "CP1") as cp:
        assert (await cp.boot()).status == "Rejected"


async def test_heartbeat_and_status_per_connector_with_error_and_vendor_info(app: App) -> None:
    await app.stations.register("CP1")
    async with connected(ocpp_url(app), "CP1") as cp:
        beat = await cp.call(call.Heartbeat())
        assert abs(datetime.fromisoformat(beat.current_time) - datetime.now(UTC)) < timedelta(seconds=5)
        await cp.call(call.StatusNotification(connector_id=0, error_code="NoError", status="Available"))
        await cp.call(
            call.StatusNotification(
                connector_id=1,
                error_code="GroundFailure",
                status="Faulted",
                info="RCD tripped",
                vendor_id="Acme",
                vendor_error_code="E17",
                timestamp=ts(NOW),
            )
        )
    connectors = (await app.stations.connectors(["CP1"]))["CP1"]
    assert [(c.connector_id, c.status, c.error_code) for c in connectors] == [
        (0, "Available", "NoError"),
        (1, "Faulted", "GroundFailure"),
    ]
    assert connectors[1].vendor_error_code == "E17" and connectors[1].info == "RCD tripped"


async def test_authorize_answers_every_token_status(app: App) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("OK", TokenChange(group_id="FLEET"))
    await app.tokens.create("BLOCKED", TokenChange(status="Blocked"))
    await app.tokens.create("OLD", TokenChange(expires_at=NOW - timedelta(days=1)))
    async with connected(ocpp_url(app), "CP1") as cp:
        ok = await cp.call(call.Authorize(id_tag="OK"))
        assert ok.id_tag_info == {"status": "Accepted", "parent_id_tag": "FLEET"}
        assert (await cp.call(call.Authorize(id_tag="BLOCKED"))).id_tag_info["status"] == "Blocked"
        assert (await cp.call(call.Authorize(id_tag="OLD"))).id_tag_info["status"] == "Expired"
        assert (await cp.call(call.Authorize(id_tag="NOBODY"))).id_tag_info["status"] == "Invalid"


async def test_a_token_at_its_concurrent_session_limit_gets_concurrent_tx(app: App) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("ONE", TokenChange(max_concurrent_tx=1))
    async with connected(ocpp_url(app), "CP1") as cp:
        first = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="ONE", meter_start=0, timestamp=ts(NOW))
        )
        assert first.id_tag_info["status"] == "Accepted"
        second = await cp.call(call.Authorize(id_tag="ONE"))
        assert second.id_tag_info["status"] == "ConcurrentTx"


async def test_session_with_meter_values_in_kwh_and_transaction_data(app: App) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("TAG", TokenChange())
    async with connected(ocpp_url(app), "CP1") as cp:
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=1000, timestamp=ts(NOW))
        )
        tx_id = start.transaction_id
        assert start.id_tag_info["status"] == "Accepted"
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx_id,
                meter_value=[
                    {
                        "timestamp": ts(NOW + timedelta(minutes=1)),
                        "sampledValue": [
                            {
                                "value": "1.5",
                                "unit": "kWh",
                                "measurand": "Energy.Active.Import.Register",
                                "context": "Sample.Periodic",
                                "location": "Outlet",
                            },
                            {"value": "7.2", "unit": "kW", "measurand": "Power.Active.Import"},
                            {"value": "16.1", "unit": "A", "measurand": "Current.Import", "phase": "L1"},
                            {"value": "230.4", "unit": "V", "measurand": "Voltage", "phase": "L1-N"},
                            {"value": "55", "unit": "Percent", "measurand": "SoC", "location": "EV"},
                        ],
                    }
                ],
            )
        )
        running = await app.transactions.get(tx_id)
        assert running.status == "active" and running.last_meter_wh == 1500
        await cp.call(
            call.StopTransaction(
                meter_stop=2500,
                timestamp=ts(NOW + timedelta(minutes=2)),
                transaction_id=tx_id,
                reason="EVDisconnected",
                id_tag="TAG",
                transaction_data=[
                    {
                        "timestamp": ts(NOW + timedelta(minutes=2)),
                        "sampledValue": [{"value": "2500", "context": "Transaction.End"}],
                    }
                ],
            )
        )
    tx = await app.transactions.get(tx_id)
    assert (tx.status, tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh, tx.stop_reason) == (
        "completed",
        1000,
        2500,
        1500,
        "EVDisconnected",
    )
    assert tx.started_at == NOW and tx.stopped_at == NOW + timedelta(minutes=2)
    values, total = await app.transactions.meter_values_of(tx_id)
    assert total == 6
    by_measurand = {(v.measurand, v.phase): (v.value, v.unit, v.raw) for v in values}
    assert by_measurand[("Energy.Active.Import.Register", None)][:2] in ((1500.0, "Wh"), (2500.0, "Wh"))
    assert by_measurand[("Power.Active.Import", None)] == (7200.0, "W", "7.2")
    assert by_measurand[("Current.Import", "L1")] == (16.1, "A", "16.1")
    assert by_measurand[("SoC", None)] == (55.0, "Percent", "55")


async def test_a_retried_start_gets_the_same_transaction_id(app: App) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("TAG", TokenChange())
    start = call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=10, timestamp=ts(NOW))
    async with connected(ocpp_url(app), "CP1") as cp:
        first = await cp.call(start)
    async with connected(ocpp_url(app), "CP1") as cp:  # the answer was lost; the charger retries
        again = await cp.call(start)
    assert again.transaction_id == first.transaction_id
    _, total = await app.transactions.get_all(TransactionFilter(station_id="CP1"))
    assert total == 1


async def test_offline_transaction_arriving_late_keeps_its_past_times(app: App) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("TAG", TokenChange())
    past = NOW - timedelta(hours=3)
    async with connected(ocpp_url(app), "CP1") as cp:
        start = await cp.call(
            call.StartTransaction(connector_id=2, id_tag="TAG", meter_start=0, timestamp=ts(past))
        )
        await cp.call(
            call.StopTransaction(
                meter_stop=5000, timestamp=ts(past + timedelta(hours=1)), transaction_id=start.transaction_id
            )
        )
    tx = await app.transactions.get(start.transaction_id)
    assert tx.started_at == past and tx.stopped_at == past + timedelta(hours=1)
    assert tx.energy_wh == 5000 and "started_offline" in tx.flags


async def test_stop_for_an_unknown_transaction_is_accepted_and_recorded(app: App) -> None:
    await app.stations.register("CP1")
    async with connected(ocpp_url(app), "CP1") as cp:
        answer = await cp.call(
            call.StopTransaction(meter_stop=777, timestamp=ts(NOW), transaction_id=-1, id_tag="GHOST")
        )
        assert answer.id_tag_info["status"] == "Invalid"
    [unknown] = await events(app, "CP1", "unknown_stop")
    assert unknown.data["reported_transaction_id"] == -1
    tx = await app.transactions.get(unknown.data["recorded_as"])
    assert tx.started_unseen and tx.meter_stop_wh == 777 and tx.status == "completed"


async def test_reconnect_keeps_the_running_transaction_and_a_second_socket_replaces_the_first(
    app: App,
) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("TAG", TokenChange())
    async with connected(ocpp_url(app), "CP1") as first:
        start = await first.call(
            call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=ts(NOW))
        )
        async with connected(ocpp_url(app), "CP1") as second:
            await wait_for(
                lambda: _is(app.gateway.connections.get("CP1"), lambda c: c is not None and c.serial > 0)
            )
            await second.call(call.Heartbeat())
            # The first socket was dropped; the station still has its active transaction.
            await second.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=start.transaction_id,
                    meter_value=[{"timestamp": ts(NOW), "sampledValue": [{"value": "100"}]}],
                )
            )
            tx = await app.transactions.get(start.transaction_id)
            assert tx.status == "active" and tx.last_meter_wh == 100
            assert len(app.gateway.connections) == 1
            station = await app.stations.get("CP1")
            assert station.connected_node is not None


async def _is(value: Any, check: Any) -> bool:
    return bool(check(value))


async def test_timestamps_without_offset_are_read_as_utc_and_flagged(app: App) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("TAG", TokenChange())
    naive = NOW.replace(tzinfo=None).isoformat()
    async with connected(ocpp_url(app), "CP1") as cp:
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=naive)
        )
    tx = await app.transactions.get(start.transaction_id)
    assert tx.started_at == NOW
    assert "start_time_without_offset" in tx.flags
    assert await events(app, "CP1", "timestamp_without_offset")


async def test_charger_reports_are_kept(app: App) -> None:
    await app.stations.register("CP1")
    async with connected(ocpp_url(app), "CP1") as cp:
        answer = await cp.call(call.DataTransfer(vendor_id="Acme", message_id="hello", data='{"x": 1}'))
        assert answer.status == "UnknownVendorId"
        await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
        await cp.call(call.FirmwareStatusNotification(status="Installed"))
    assert (await events(app, "CP1", "data_transfer"))[0].data["messageId"] == "hello"
    assert (await events(app, "CP1", "diagnostics_status"))[0].data == {"status": "Uploaded"}
    assert (await events(app, "CP1", "firmware_status"))[0].data == {"status": "Installed"}


async def raw_exchange(ws: Any, frame: str) -> list[Any]:
    await ws.send(frame)
    return json.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('[2, "m1", "Heartbeat"]', "ProtocolError"),
        ('[2, "m1", "FlyToTheMoon", {}]', "NotImplemented"),
        ('[2, "m1", "RemoteStartTransaction", {"idTag": "X"}]', "NotSupported"),
        (
            '[2, "m1", "StatusNotification", {"connectorId": 1, "status": "Available"}]',
            "OccurenceConstraintViolation",
        ),
        (
            '[2, "m1", "StatusNotification", {"connectorId": "one", "errorCode": "NoError", "status": "Available"}]',
            "TypeConstraintViolation",
        ),
        (
            '[2, "m1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"}]',
            "PropertyConstraintViolation",
        ),
        ('[2, "m1", "Heartbeat", {"x"', "FormationViolation"),
    ],
)
async def test_bad_frames_get_a_callerror_and_the_connection_survives(
    app: App, frame: str, code: str
) -> None:
    await app.stations.register("CP1")
    async with websockets.connect(f"{ocpp_url(app)}/CP1", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send("this is not json at all")  # no id can be read: nothing to answer
        answer = await raw_exchange(ws, frame)
        assert answer[0] == 4 and answer[1] == "m1" and answer[2] == code, answer
        ok = await raw_exchange(ws, '[2, "m2", "Heartbeat", {}]')
        assert ok[0] == 3 and ok[1] == "m2" and "currentTime" in ok[2]


async def test_lenient_station_accepts_known_quirks_and_records_them(app: App) -> None:
    await app.stations.register("STRICT")
    await app.stations.register("LENIENT", lenient=True)
    boot = (
        '[2, "b1", "BootNotification", {"chargePointVendor": "Schneider Electric", "chargePointModel": "EVlink", "chargePointSerialNumber": "%s"}]'
        % ("S" * 40)
    )
    async with websockets.connect(f"{ocpp_url(app)}/STRICT", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        assert (await raw_exchange(ws, boot))[2] == "PropertyConstraintViolation"
    async with websockets.connect(f"{ocpp_url(app)}/LENIENT", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        answer = await raw_exchange(ws, boot)
        assert answer[0] == 3 and answer[2]["status"] == "Accepted"
    [quirk] = await events(app, "LENIENT", "quirk")
    assert quirk.data["kind"] == "string_too_long"
    assert (await app.stations.get("LENIENT")).serial_number == "S" * 40


async def test_wrong_password_is_refused_at_the_handshake(app: App) -> None:
    await app.stations.register("CP1", password="correct-horse-battery")
    for password in (None, "wrong-password-123"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connected(ocpp_url(app), "CP1", password=password):
                pass
        assert refused.value.response.status_code == 401
    async with connected(ocpp_url(app), "CP1", password="correct-horse-battery") as cp:
        assert (await cp.boot()).status == "Accepted"


async def test_subprotocol_other_than_ocpp16_is_refused(app: App) -> None:
    await app.stations.register("CP1")
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{ocpp_url(app)}/CP1", subprotocols=["ocpp9.9"]):  # type: ignore[list-item]
            pass
    assert refused.value.response.status_code == 400


async def test_meter_values_are_flushed_on_shutdown(make_app: AppFactory) -> None:
    app = await make_app(http=False)
    await app.stations.register("CP1")
    async with connected(ocpp_url(app), "CP1") as cp:
        await asyncio.gather(
            *(
                cp.call(
                    call.MeterValues(
                        connector_id=1,
                        meter_value=[{"timestamp": ts(NOW), "sampledValue": [{"value": str(i)}]}],
                    )
                )
                for i in range(1)
            )
        )
    await app.stop()
    reopened = App.build(app.settings)
    async with reopened.db.read() as s:
        rows = (await s.scalars(select(MeterValue))).all()
    await reopened.db.close()
    assert [r.raw for r in rows] == ["0"]


async def test_commands_go_one_at_a_time_in_order(app: App) -> None:
    await app.stations.register("CP1")
    async with connected(ocpp_url(app), "CP1") as cp:
        cp.answer_delay = 0.05
        results = await asyncio.gather(
            *(app.commands.send("CP1", "Reset", {"type": "Soft"}) for _ in range(3)),
            app.commands.send("CP1", "ChangeConfiguration", {"key": "K", "value": "V"}),
        )
        assert all(r["status"] == "Accepted" for r in results)
        assert sorted(a for a, _ in cp.received) == ["ChangeConfiguration", "Reset", "Reset", "Reset"]
        assert cp.most_in_flight == 1
    log, total = await app.commands.log(station_id="CP1")
    assert total == 4 and {e.status for e in log} == {"answered"}


async def test_a_start_on_a_busy_connector_closes_the_session_that_lost_its_stop(app: App) -> None:
    from voltbridge.core.events import TransactionStopped

    await app.stations.register("CP1")
    await app.tokens.create("TAG", TokenChange(max_concurrent_tx=0))
    stopped: asyncio.Queue[TransactionStopped] = asyncio.Queue()

    async def collect(event: TransactionStopped) -> None:
        await stopped.put(event)

    app.bus.subscribe(TransactionStopped, collect, name="test-stops")
    async with connected(ocpp_url(app), "CP1") as cp:
        first = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=ts(NOW))
        )
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=first.transaction_id,
                meter_value=[
                    {"timestamp": ts(NOW + timedelta(minutes=5)), "sampledValue": [{"value": "900"}]}
                ],
            )
        )
        later = NOW + timedelta(minutes=30)
        await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=900, timestamp=ts(later))
        )
    old = await app.transactions.get(first.transaction_id)
    assert old.status == "completed" and "stop_missing" in old.flags
    assert (old.meter_stop_wh, old.energy_wh, old.stopped_at) == (900, 900, NOW + timedelta(minutes=5))
    event = await asyncio.wait_for(stopped.get(), 5)
    assert event.transaction_id == first.transaction_id


async def test_heartbeats_of_many_stations_are_written_together_and_never_backwards(
    make_app: AppFactory,
) -> None:
    app = await make_app(http=False)
    for i in range(6):
        await app.stations.register(f"HB{i}")
    async with contextlib.AsyncExitStack() as stack:
        chargers = [await stack.enter_async_context(connected(ocpp_url(app), f"HB{i}")) for i in range(5)]
        for i in range(5):
            await wait_for(lambda i=i: _connected(app, f"HB{i}"))
        at_connect = {f"HB{i}": await _last_seen(app, f"HB{i}") for i in range(5)}
        for cp in chargers:
            await cp.call(call.Heartbeat())
        # HB1 boots while its heartbeat is still gathered: the boot's newer time must stay.
        assert (await chargers[1].boot()).status == "Accepted"
        booted = await app.stations.get("HB1")
        await wait_for(lambda: _all_later(app, {k: v for k, v in at_connect.items() if k != "HB1"}))
        assert (await _last_seen(app, "HB1")) == booted.last_seen_at == booted.booted_at
        # On shutdown, what is gathered is written.
        async with connected(ocpp_url(app), "HB5") as last:
            await wait_for(lambda: _connected(app, "HB5"))
            before = await _last_seen(app, "HB5")
            await last.call(call.Heartbeat())
            await app.stop()
    reopened = await make_app(http=False)
    assert (await _last_seen(reopened, "HB5")) > before


async def _connected(app: App, station_id: str) -> bool:
    return (await app.stations.get(station_id)).last_seen_at is not None


async def _last_seen(app: App, station_id: str) -> datetime:
    seen = (await app.stations.get(station_id)).last_seen_at
    assert seen is not None
    return seen


async def _all_later(app: App, since: dict[str, datetime]) -> bool:
    return all([await _last_seen(app, sid) > at for sid, at in since.items()])


async def test_a_station_takes_commands_as_soon_as_its_handshake_is_answered(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the gateway reads about a station at connect is slowed down, as on a loaded server: the
    # station must be reachable for commands from the 101 on, not only once that read is done.
    await app.stations.register("CP1")
    read = app.stations.lenient

    async def slow_read(station_id: str) -> bool:
        await asyncio.sleep(0.3)
        return await read(station_id)

    monkeypatch.setattr(app.stations, "lenient", slow_read)
    async with connected(ocpp_url(app), "CP1"):
        assert (await app.commands.send("CP1", "Reset", {"type": "Soft"}))["status"] == "Accepted"

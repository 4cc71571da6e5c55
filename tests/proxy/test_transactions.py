"""Transaction ids per upstream: the charger uses ours, each upstream sees and uses only its own."""

from __future__ import annotations

from ocpp.v16 import call

from tests.chargers import connected
from tests.conftest import ocpp_url
from tests.proxy.charging import ProfileCharger, meter, start, stop
from tests.proxy.conftest import Apps, UpstreamFactory, connect_upstream, is_connected, wait_state
from voltbridge.app import App
from voltbridge.core.tokens.service import TokenChange
from voltbridge.core.upstreams import Role


async def test_each_upstream_sees_only_its_own_transaction_ids_both_ways(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    billing = await upstream("billing", first_transaction_id=1000)
    dc = await upstream("dc", first_transaction_id=5000)
    async with connected(ocpp_url(app), "CP1", charger_class=ProfileCharger) as cp:
        await cp.boot()
        billing_id = await connect_upstream(app, "CP1", billing, Role.BILLING)
        dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await wait_state(app, billing_id, is_connected)
        await wait_state(app, dc_id, is_connected)

        ours = (await start(cp)).transaction_id
        assert ours not in (1001, 5001)
        await meter(cp, ours, 100, 1)
        await dc.wait(lambda: len(dc.calls("MeterValues")) == 1)
        await billing.wait(lambda: len(billing.calls("MeterValues")) == 1)
        assert billing.calls("MeterValues")[0].payload["transactionId"] == 1001
        assert dc.calls("MeterValues")[0].payload["transactionId"] == 5001

        # Commands name the upstream's own id; the charger gets ours.
        profile = {
            "chargingProfileId": 7,
            "transactionId": 5001,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
            },
        }
        answer = await dc.send("CP1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile))
        assert answer.status == "Accepted"
        received = dict(cp.received)["SetChargingProfile"]
        assert received["cs_charging_profiles"]["transaction_id"] == ours

        # An id the upstream never issued is refused without bothering the charger.
        refused = await billing.send("CP1", call.RemoteStopTransaction(transaction_id=5001))
        assert refused.status == "Rejected"
        assert "RemoteStopTransaction" not in dict(cp.received)
        stopped = await billing.send("CP1", call.RemoteStopTransaction(transaction_id=1001))
        assert stopped.status == "Accepted"
        assert dict(cp.received)["RemoteStopTransaction"] == {"transaction_id": ours}

        await stop(cp, ours, 500, 2)
        await dc.wait(lambda: len(dc.calls("StopTransaction")) == 1)
        await billing.wait(lambda: len(billing.calls("StopTransaction")) == 1)
    assert billing.calls("StopTransaction")[0].payload["transactionId"] == 1001
    assert dc.calls("StopTransaction")[0].payload["transactionId"] == 5001
    for server in (billing, dc):
        assert [
            m.action
            for m in server.received
            if "transaction" in m.action.lower() or m.action == "MeterValues"
        ] == [
            "StartTransaction",
            "MeterValues",
            "StopTransaction",
        ]


async def test_an_upstream_connected_after_the_start_gets_no_messages_of_that_transaction(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    late = await upstream("late")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        ours = (await start(cp)).transaction_id
        late_id = await connect_upstream(app, "CP1", late, Role.DATA_CONTROL)
        await wait_state(app, late_id, is_connected)
        await meter(cp, ours, 100, 1)
        await stop(cp, ours, 200, 2)
        await cp.call(call.Heartbeat())
        await late.wait(lambda: "Heartbeat" in late.actions())
    assert (
        not late.calls("MeterValues")
        and not late.calls("StopTransaction")
        and not late.calls("StartTransaction")
    )
    state = app.proxy.state(late_id)
    assert state is not None and state.skipped == 2


async def test_the_id_map_survives_a_restart_of_voltbridge(apps: Apps, upstream: UpstreamFactory) -> None:
    app = await apps.start()
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    dc = await upstream("dc", first_transaction_id=5000)
    dc_id = await connect_upstream(app, "CP1", dc, Role.BILLING)
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        await wait_state(app, dc_id, is_connected)
        ours = (await start(cp)).transaction_id
    await apps.stop(app)

    again = await apps.start()
    async with connected(ocpp_url(again), "CP1") as cp:
        await dc.wait(lambda: dc.connections == 2 and dc.connected("CP1"))
        await meter(cp, ours, 100, 1)
        await dc.wait(lambda: len(dc.calls("MeterValues")) == 1)
        assert dc.calls("MeterValues")[0].payload["transactionId"] == 5001
        stopped = await dc.send("CP1", call.RemoteStopTransaction(transaction_id=5001))
        assert stopped.status == "Accepted"
        assert dict(cp.received)["RemoteStopTransaction"] == {"transaction_id": ours}

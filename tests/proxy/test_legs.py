"""Legs end to end: a real 1.6 charger on voltbridge, real upstream central systems on loopback."""

from __future__ import annotations

import base64

from ocpp.v16 import call

from tests.chargers import connected
from tests.conftest import ocpp_url
from tests.proxy.conftest import UpstreamFactory, connect_upstream, is_connected, wait_state
from voltbridge.app import App
from voltbridge.core.upstreams import LegStatus, Role, UpstreamChange


def status(connector_id: int, state: str, error_code: str = "NoError") -> call.StatusNotification:
    return call.StatusNotification(connector_id=connector_id, error_code=error_code, status=state)


async def test_a_new_leg_resyncs_boot_and_a_status_per_connector(app: App, upstream: UpstreamFactory) -> None:
    await app.stations.register("CP1")
    dc = await upstream("dc")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        await cp.call(status(0, "Available"))
        await cp.call(status(1, "Available"))
        await cp.call(status(2, "Faulted", "GroundFailure"))
        await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL, password="leg-secret")
        await dc.wait(lambda: len(dc.calls("StatusNotification")) == 3)

    assert dc.actions("CP1") == [
        "BootNotification",
        "StatusNotification",
        "StatusNotification",
        "StatusNotification",
    ]
    boot = dc.calls("BootNotification")[0].payload
    assert boot["chargePointVendor"] == "TestVendor" and boot["chargePointModel"] == "TestModel"
    statuses = {
        m.payload["connectorId"]: (m.payload["status"], m.payload["errorCode"])
        for m in dc.calls("StatusNotification")
    }
    assert statuses == {
        0: ("Available", "NoError"),
        1: ("Available", "NoError"),
        2: ("Faulted", "GroundFailure"),
    }
    expected = "Basic " + base64.b64encode(b"CP1:leg-secret").decode()
    assert dc.authorization["CP1"] == expected


async def test_every_charger_call_reaches_every_upstream_and_the_charger_still_gets_ours(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    one, two = await upstream("one"), await upstream("two")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        first = await connect_upstream(app, "CP1", one, Role.DATA_CONTROL)
        second = await connect_upstream(app, "CP1", two, Role.DATA_CONTROL)
        await wait_state(app, first, is_connected)
        await wait_state(app, second, is_connected)
        answer = await cp.call(call.Heartbeat())
        assert answer.current_time
        await cp.call(call.DataTransfer(vendor_id="acme", data="x"))
        await one.wait(lambda: "DataTransfer" in one.actions("CP1"))
        await two.wait(lambda: "DataTransfer" in two.actions("CP1"))
    for server in (one, two):
        assert s_tail(server.actions("CP1")) == ["Heartbeat", "DataTransfer"]


def s_tail(actions: list[str]) -> list[str]:
    return [a for a in actions if a not in ("BootNotification", "StatusNotification")]


async def test_a_disabled_upstream_has_no_leg_and_enabling_it_connects(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    dc = await upstream("dc")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        upstream_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL, enabled=False)
        await cp.call(call.Heartbeat())  # the bus has delivered the change by the time this is answered
        assert app.proxy.leg(upstream_id) is None
        assert dc.connections == 0
        await app.upstreams.update("CP1", upstream_id, UpstreamChange(enabled=True))
        await dc.wait(lambda: dc.connected("CP1"))
        await app.upstreams.update("CP1", upstream_id, UpstreamChange(enabled=False))
        await dc.wait(lambda: not dc.connected("CP1"))
        state = app.proxy.state(upstream_id)
        assert state is not None and state.status is LegStatus.DISABLED


async def test_deleting_an_upstream_drops_its_leg_at_once(app: App, upstream: UpstreamFactory) -> None:
    await app.stations.register("CP1")
    dc = await upstream("dc")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        upstream_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await dc.wait(lambda: dc.connected("CP1"))
        await app.upstreams.delete("CP1", upstream_id)
        await dc.wait(lambda: not dc.connected("CP1"))
        assert app.proxy.state(upstream_id) is None
        # The charger's own session is untouched.
        assert (await cp.call(call.Heartbeat())).current_time


async def test_a_leg_follows_its_charger_offline_and_back(app: App, upstream: UpstreamFactory) -> None:
    await app.stations.register("CP1")
    dc = await upstream("dc")
    upstream_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        await dc.wait(lambda: dc.connected("CP1"))
    await dc.wait(lambda: not dc.connected("CP1"))
    state = app.proxy.state(upstream_id)
    assert state is not None and state.status is LegStatus.IDLE
    async with connected(ocpp_url(app), "CP1"):
        await dc.wait(lambda: dc.connections == 2 and dc.connected("CP1"))

"""Commands from upstreams: role filter, guard list, one queue to the charger, answers under their own ids."""

from __future__ import annotations

import asyncio

import pytest
from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.exceptions import SecurityError
from ocpp.v16 import call

from tests.chargers import connected
from tests.conftest import ocpp_url
from tests.proxy.conftest import UpstreamFactory, connect_upstream, is_connected, wait_state
from voltbridge.app import App
from voltbridge.core.upstreams import Role, UpstreamChange


async def test_data_control_may_configure_but_not_start(app: App, upstream: UpstreamFactory) -> None:
    await app.stations.register("CP1")
    dc = await upstream("dc")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await wait_state(app, dc_id, is_connected)

        refused = await dc.send("CP1", call.RemoteStartTransaction(id_tag="CARD1", connector_id=1))
        assert refused.status == "Rejected"
        changed = await dc.send("CP1", call.ChangeConfiguration(key="HeartbeatInterval", value="120"))
        assert changed.status == "Accepted"
        with pytest.raises(SecurityError):
            await dc.send(
                "CP1", call.SendLocalList(list_version=2, update_type="Full", local_authorization_list=[])
            )
        cleared = await dc.send("CP1", call.ClearCache())
        assert cleared.status == "Rejected"

    assert [action for action, _ in cp.received] == ["ChangeConfiguration"]
    assert cp.config["HeartbeatInterval"] == "120"
    state = app.proxy.state(dc_id)
    assert state is not None
    assert state.refused == {"RemoteStartTransaction": 1, "SendLocalList": 1, "ClearCache": 1}
    notes = [m.note or "" for m in app.proxy.messages(dc_id)]
    assert any("may not start or stop" in n for n in notes)


async def test_the_guard_list_refuses_connection_settings_to_everyone(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    billing = await upstream("billing")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        billing_id = await connect_upstream(app, "CP1", billing, Role.BILLING)
        await wait_state(app, billing_id, is_connected)
        for key, value in (
            ("CentralSystemURL", "wss://elsewhere.example/ocpp"),
            ("AuthorizationKey", "0011223344556677"),
            ("SecurityProfile", "0"),
            ("BackendUrl", "ws://elsewhere.example"),
        ):
            answer = await billing.send("CP1", call.ChangeConfiguration(key=key, value=value))
            assert answer.status == "Rejected", key
        with pytest.raises(SecurityError):
            await billing.send(
                "CP1",
                call.DeleteCertificate(
                    certificate_hash_data={
                        "hashAlgorithm": "SHA256",
                        "issuerNameHash": "a",
                        "issuerKeyHash": "b",
                        "serialNumber": "1",
                    }
                ),
            )
        # The authority may do what is its own: start a session, clear the cache.
        started = await billing.send("CP1", call.RemoteStartTransaction(id_tag="CARD1", connector_id=1))
        assert started.status == "Accepted"
        assert (await billing.send("CP1", call.ClearCache())).status == "Accepted"

    assert [action for action, _ in cp.received] == ["RemoteStartTransaction", "ClearCache"]
    assert cp.config.get("CentralSystemURL") is None
    state = app.proxy.state(billing_id)
    assert state is not None and state.refused == {"ChangeConfiguration": 4, "DeleteCertificate": 1}


async def test_an_action_a_central_system_never_sends_is_not_relayed(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    dc = await upstream("dc")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await wait_state(app, dc_id, is_connected)
        with pytest.raises(OcppNotImplemented):
            await dc.send("CP1", call.Heartbeat())
    assert cp.received == []


async def test_two_upstreams_using_the_same_message_id_at_once_get_their_own_answers(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    one, two = await upstream("one"), await upstream("two")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        cp.config.update({"A": "alpha", "B": "beta"})
        cp.answer_delay = 0.05  # Reset answers slowly: the second command waits in the charger's queue
        one_id = await connect_upstream(app, "CP1", one, Role.DATA_CONTROL)
        two_id = await connect_upstream(app, "CP1", two, Role.DATA_CONTROL)
        await wait_state(app, one_id, is_connected)
        await wait_state(app, two_id, is_connected)

        first, second = await asyncio.gather(
            one.send("CP1", call.GetConfiguration(key=["A"]), unique_id="42"),
            two.send("CP1", call.GetConfiguration(key=["B"]), unique_id="42"),
        )
        assert first.configuration_key == [{"key": "A", "readonly": False, "value": "alpha"}]
        assert second.configuration_key == [{"key": "B", "readonly": False, "value": "beta"}]

        resets = await asyncio.gather(
            one.send("CP1", call.Reset(type="Soft"), unique_id="7"),
            two.send("CP1", call.Reset(type="Hard"), unique_id="7"),
            app.commands.send("CP1", "Reset", {"type": "Soft"}),
        )
        assert [r.status if hasattr(r, "status") else r["status"] for r in resets] == ["Accepted"] * 3
        assert cp.most_in_flight == 1  # one CALL in flight to the charger: the upstreams share our queue


async def test_a_role_change_applies_without_reconnecting_anyone(app: App, upstream: UpstreamFactory) -> None:
    await app.stations.register("CP1")
    dc = await upstream("dc")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        connection = app.gateway.connections["CP1"]
        dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await wait_state(app, dc_id, is_connected)
        assert (await dc.send("CP1", call.RemoteStartTransaction(id_tag="CARD1"))).status == "Rejected"

        await app.upstreams.update("CP1", dc_id, UpstreamChange(role=Role.BILLING))
        # The very next command is judged by the new role.
        assert (await dc.send("CP1", call.RemoteStartTransaction(id_tag="CARD1"))).status == "Accepted"
        assert app.gateway.connections["CP1"] is connection
        assert dc.connections == 1
        async with asyncio.timeout(5):  # and the leg becomes the authority once the change event is in
            while not app.proxy.decides_for("CP1"):
                await asyncio.sleep(0.01)

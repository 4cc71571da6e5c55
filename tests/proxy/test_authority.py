"""Authorization with a Billing upstream: its answer is the charger's, within a bounded wait."""

from __future__ import annotations

from ocpp.v16 import call

from tests.chargers import connected
from tests.conftest import ocpp_url
from tests.proxy.charging import start
from tests.proxy.conftest import Apps, UpstreamFactory, connect_upstream, is_connected, wait_state
from voltbridge.app import App
from voltbridge.core.tokens.service import TokenChange
from voltbridge.core.upstreams import Role


async def test_a_billing_upstream_decides_and_can_reject_a_card_the_platform_accepts(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    billing = await upstream("billing", rejected={"CARD1"})
    dc = await upstream("dc")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        billing_id = await connect_upstream(app, "CP1", billing, Role.BILLING)
        dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await wait_state(app, billing_id, is_connected)
        await wait_state(app, dc_id, is_connected)

        authorized = await cp.call(call.Authorize(id_tag="CARD1"))
        assert authorized.id_tag_info["status"] == "Invalid"
        started = await start(cp, "CARD1")
        assert started.id_tag_info["status"] == "Invalid"
        ours = (await app.transactions.get(started.transaction_id)).id
        assert started.transaction_id == ours  # the charger always gets voltbridge's id
        await dc.wait(lambda: len(dc.calls("StartTransaction")) == 1)

    # The authority was asked each CALL once; the other upstream saw them too, its answers unused.
    assert len(billing.calls("Authorize")) == 1
    assert len(billing.calls("StartTransaction")) == 1
    assert len(dc.calls("Authorize")) == 1
    state = app.proxy.state(billing_id)
    assert state is not None and state.fallbacks == 0


async def test_without_a_connected_billing_upstream_the_platform_decides(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    billing = await upstream("billing", rejected={"CARD1"})
    await connect_upstream(app, "CP1", billing, Role.BILLING, enabled=False)
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        assert (await cp.call(call.Authorize(id_tag="CARD1"))).id_tag_info["status"] == "Accepted"
        assert (await cp.call(call.Authorize(id_tag="UNKNOWN"))).id_tag_info["status"] == "Invalid"


async def test_an_authority_that_never_answers_gets_the_fallback_recorded(
    apps: Apps, upstream: UpstreamFactory
) -> None:
    app = await apps.start(authority_timeout=0.3, authority_fallback="local")
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    billing = await upstream("billing", rejected={"CARD1"})
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        billing_id = await connect_upstream(app, "CP1", billing, Role.BILLING)
        await wait_state(app, billing_id, lambda s: is_connected(s) and s.messages_down >= 1)
        billing.silent = True

        authorized = await cp.call(call.Authorize(id_tag="CARD1"))
        assert authorized.id_tag_info["status"] == "Accepted"  # the platform's own list decided
        started = await start(cp, "CARD1")
        assert started.id_tag_info["status"] == "Accepted"
        assert started.transaction_id == (await app.transactions.get(started.transaction_id)).id

        state = app.proxy.state(billing_id)
        assert state is not None and state.fallbacks == 2
        assert state.last_error is not None and "fallback" in state.last_error
        notes = [m.note or "" for m in app.proxy.messages(billing_id)]
        assert sum("fallback decision used" in n for n in notes) == 2
        assert app.authorization.fallbacks_used == 2
        # The charger's session is untouched by the silent upstream.
        assert (await cp.call(call.Heartbeat())).current_time

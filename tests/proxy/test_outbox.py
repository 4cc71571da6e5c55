"""Nothing lost: billing-relevant messages wait in a durable outbox; other kinds in a bounded queue."""

from __future__ import annotations

from dataclasses import replace

from ocpp.v16 import call
from sqlalchemy import func, select

from tests.chargers import connected
from tests.conftest import ocpp_url
from tests.proxy.charging import meter, start, stop
from tests.proxy.conftest import FAST, Apps, UpstreamFactory, connect_upstream, is_connected, wait_state
from tests.proxy.upstream import UpstreamServer
from voltbridge.app import App
from voltbridge.core.tokens.service import TokenChange
from voltbridge.core.upstreams import LegStatus, Role
from voltbridge.store.models.upstreams import UpstreamOutboxEntry

SESSION = ["StartTransaction", "MeterValues", "MeterValues", "StopTransaction"]


def session_of(server: UpstreamServer) -> list[tuple[str, int]]:
    return [
        (m.action, m.payload["transactionId"]) if m.action != "StartTransaction" else (m.action, 0)
        for m in server.received
        if m.action in ("StartTransaction", "MeterValues", "StopTransaction")
    ]


async def outbox_rows(app: App) -> int:
    async with app.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(UpstreamOutboxEntry)) or 0)


async def test_an_upstream_killed_mid_session_gets_the_session_in_order_when_back(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    dc = await upstream("dc", first_transaction_id=5000)
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await wait_state(app, dc_id, is_connected)
        ours = (await start(cp)).transaction_id
        await wait_state(app, dc_id, lambda s: s.outbox_depth == 0 and s.queue_depth == 0)  # Start answered
        await dc.kill()

        await meter(cp, ours, 100, 1)
        await meter(cp, ours, 200, 2)
        await stop(cp, ours, 300, 3)
        state = await wait_state(
            app, dc_id, lambda s: s.status is LegStatus.BACKING_OFF and s.outbox_depth == 3
        )
        assert state.last_error is not None and state.next_attempt_at is not None

        await dc.start()
        await dc.wait(lambda: len(dc.calls("StopTransaction")) == 1)
        state = await wait_state(app, dc_id, lambda s: s.outbox_depth == 0)
        assert state.reconnects == 1
    assert session_of(dc) == [
        ("StartTransaction", 0),
        ("MeterValues", 5001),
        ("MeterValues", 5001),
        ("StopTransaction", 5001),
    ]
    # After the reconnect it re-synced first.
    after = dc.actions()[dc.actions().index("StartTransaction") + 1 :]
    assert after[0] == "BootNotification"


async def test_an_upstream_down_for_a_whole_session_gets_all_of_it(
    app: App, upstream: UpstreamFactory
) -> None:
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    billing = await upstream("billing", first_transaction_id=1000)
    dc = await upstream("dc", first_transaction_id=5000)
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        billing_id = await connect_upstream(app, "CP1", billing, Role.BILLING)
        dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await wait_state(app, billing_id, is_connected)
        await wait_state(app, dc_id, is_connected)
        await billing.kill()
        await dc.kill()
        await wait_state(app, billing_id, lambda s: not is_connected(s))

        ours = (await start(cp)).transaction_id  # no authority connected: the platform decides
        await meter(cp, ours, 100, 1)
        await meter(cp, ours, 200, 2)
        await stop(cp, ours, 300, 3)
        assert await outbox_rows(app) == 8

        await dc.start()
        await billing.start()
        await dc.wait(lambda: len(dc.calls("StopTransaction")) == 1)
        await billing.wait(lambda: len(billing.calls("StopTransaction")) == 1)
    assert session_of(billing) == [
        ("StartTransaction", 0),
        ("MeterValues", 1001),
        ("MeterValues", 1001),
        ("StopTransaction", 1001),
    ]
    assert session_of(dc) == [
        ("StartTransaction", 0),
        ("MeterValues", 5001),
        ("MeterValues", 5001),
        ("StopTransaction", 5001),
    ]


async def test_undelivered_messages_survive_a_restart_of_voltbridge(
    apps: Apps, upstream: UpstreamFactory
) -> None:
    app = await apps.start()
    await app.stations.register("CP1")
    await app.tokens.create("CARD1", TokenChange())
    dc = await upstream("dc", first_transaction_id=5000)
    dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        await wait_state(app, dc_id, is_connected)
        await dc.kill()
        ours = (await start(cp)).transaction_id
        await meter(cp, ours, 100, 1)
        await meter(cp, ours, 200, 2)
        await stop(cp, ours, 300, 3)
    await apps.stop(app)

    await dc.start()
    again = await apps.start()  # the charger stays away: the leg runs for the backlog alone
    await dc.wait(lambda: len(dc.calls("StopTransaction")) == 1)
    await dc.wait(lambda: not dc.connected("CP1"))  # and leaves once it is delivered
    assert session_of(dc) == [
        ("StartTransaction", 0),
        ("MeterValues", 5001),
        ("MeterValues", 5001),
        ("StopTransaction", 5001),
    ]
    await again.proxy.close()  # flushes the last acknowledgements
    assert await outbox_rows(again) == 0


async def test_other_messages_wait_in_a_bounded_queue_and_drops_are_counted(
    apps: Apps, upstream: UpstreamFactory
) -> None:
    app = await apps.start(options=replace(FAST, queue_limit=3))
    await app.stations.register("CP1")
    dc = await upstream("dc")
    async with connected(ocpp_url(app), "CP1") as cp:
        await cp.boot()
        dc_id = await connect_upstream(app, "CP1", dc, Role.DATA_CONTROL)
        await wait_state(app, dc_id, is_connected)
        await dc.kill()
        for n in range(5):
            await cp.call(call.DataTransfer(vendor_id="acme", message_id=str(n)))
        state = await wait_state(app, dc_id, lambda s: s.dropped == 2)
        assert state.queue_depth == 3 and state.outbox_depth == 0
        await dc.start()
        await dc.wait(lambda: len(dc.calls("DataTransfer")) == 3)
    assert [m.payload["messageId"] for m in dc.calls("DataTransfer")] == ["2", "3", "4"]

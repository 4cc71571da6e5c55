"""The outbox store on each backend: ids in order under group commit, acknowledgements, id links."""

from __future__ import annotations

import asyncio

from voltbridge.app import App
from voltbridge.core.upstreams import OutboxMessage, Role, TransactionLink, UpstreamSpec
from voltbridge.store.models.upstreams import UpstreamOutboxEntry


async def test_concurrent_appends_get_the_ids_of_their_own_rows_in_order(app: App) -> None:
    await app.stations.register("CP1")
    one = await app.upstreams.create("CP1", UpstreamSpec(url="ws://one.example/ocpp", role=Role.BILLING))
    two = await app.upstreams.create("CP1", UpstreamSpec(url="ws://two.example/ocpp", role=Role.DATA_CONTROL))
    outbox = app.proxy.outbox

    async def append(n: int) -> list[int]:
        messages = [OutboxMessage(u.id, "MeterValues", {"n": n, "for": u.id}, n) for u in (one, two)]
        return await outbox.append(messages)

    results = await asyncio.gather(*(append(n) for n in range(40)))
    async with app.db.read() as session:
        for n, ids in enumerate(results):
            rows = [await session.get(UpstreamOutboxEntry, i) for i in ids]
            assert [(r.payload["n"], r.upstream_id) for r in rows if r is not None] == [
                (n, one.id),
                (n, two.id),
            ]
    flat = [i for ids in results for i in ids]
    assert flat == sorted(flat)  # arrival order is delivery order
    assert outbox.commits < 40  # they shared commits

    pending = await outbox.pending(one.id)
    assert [e.payload["n"] for e in pending] == list(range(40))
    assert await outbox.backlogged() == [one.id, two.id]

    outbox.delivered(pending[0].id, learn=TransactionLink(one.id, 0, 900))
    outbox.delivered(pending[1].id)
    assert [e.payload["n"] for e in await outbox.pending(one.id)][:2] == [
        2,
        3,
    ]  # hidden while being acknowledged
    await outbox.flush()
    assert await outbox.depth(one.id) == 38
    assert await outbox.open_links(one.id) == [TransactionLink(one.id, 0, 900)]
    outbox.delivered(
        pending[2].id, learn=TransactionLink(one.id, 0, 901)
    )  # a Start delivered twice: last id counts
    outbox.delivered(pending[3].id, close=(one.id, 1))
    await outbox.flush()
    assert await outbox.open_links(one.id) == [TransactionLink(one.id, 0, 901)]

    await app.upstreams.delete("CP1", two.id)
    assert await outbox.depth(two.id) == 0  # its outbox went with it
    assert await outbox.backlogged() == [one.id]

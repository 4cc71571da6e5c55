"""Billing behind a burst of meter values: the bus keeps every start and stop, and the newest reading.

Other chargers stream MeterValues back to back (each re-priced: the running-cost interval is 0 in
tests) while a session starts, charges and stops. The bus queue is small, so billing is behind the
stream for most of the test; the session must still get its tariff snapshot, its running cost up to
its last reading, and an exact CDR.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.conftest import bearer
from tests.billing.billing_helpers import (
    BillingCharger,
    expect,
    make_site,
    make_tariff,
    make_token,
    meter,
    register,
    settled,
    start,
    stop,
)
from tests.bus.support import wait_until
from tests.chargers import TestCharger, connected
from tests.conftest import ADMIN_TOKEN, api_url, make_settings, ocpp_url
from voltbridge.app import App
from voltbridge.billing import CdrCreated, SessionCostUpdated
from voltbridge.bus import LocalBus, SubscriptionStats

T0 = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
ENERGY_030: dict[str, Any] = {
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 0, "step_size": 1}]}],
}


async def _stream(charger: TestCharger, tx: int, until: asyncio.Event) -> int:
    """MeterValues back to back, as a charger under the throughput benchmark sends them."""
    n = 0
    while not until.is_set():
        n += 1
        await meter(charger, tx, register(T0 + timedelta(seconds=n), 10 * n))
    return n


def _billing(bus: LocalBus) -> SubscriptionStats:
    return {s.name: s for s in bus.stats()}["billing-sessions"]


async def test_a_session_started_amid_a_burst_of_meter_values_gets_its_snapshot_and_exact_cdr(
    database_url: str,
) -> None:
    bus = LocalBus(queue_limit=16)
    app = App.build(make_settings(database_url), bus=bus)
    await app.start(migrate=False)
    try:
        async with httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10) as api:
            site = await make_site(api, "BURST", ["CP-A", "CP-B", "CP-C"])
            await make_tariff(api, ENERGY_030, area_id=site.area_id)
            await make_token(api, "DRIVER")
        url = ocpp_url(app)
        async with (
            connected(url, "CP-A", charger_class=BillingCharger) as a,
            connected(url, "CP-B", charger_class=BillingCharger) as b,
            connected(url, "CP-C", charger_class=BillingCharger) as c,
        ):
            for charger in (a, b, c):
                await charger.boot()
            done = asyncio.Event()
            streams = [
                asyncio.create_task(
                    _stream(charger, await start(charger, id_tag="DRIVER", at=T0, meter_start=0), done)
                )
                for charger in (b, c)
            ]
            # Billing is behind the stream (newer readings take the place of queued ones) before
            # the session starts: how far behind a given machine gets on its own varies.
            await wait_until(lambda: _billing(bus).coalesced > 0, timeout=30)
            tx = await start(a, id_tag="DRIVER", at=T0, meter_start=0)
            for minute in range(4, 40, 4):
                await meter(a, tx, register(T0 + timedelta(minutes=minute), 100 * minute))
            running = expect(app, SessionCostUpdated, transaction_id=tx, energy_wh=4_000)
            await meter(a, tx, register(T0 + timedelta(minutes=40), 4_000))
            assert str((await settled(running)).excl_vat) == "1.20"
            issued = expect(app, CdrCreated, transaction_id=tx)
            await stop(a, tx, at=T0 + timedelta(minutes=41), meter_stop=4_100)
            cdr = await settled(issued)
            done.set()
            sent = await asyncio.gather(*streams)
        assert str(cdr.total_excl_vat) == "1.23"  # 4.1 kWh x 0.30
        async with httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10) as api:
            cost = (await api.get(f"/api/v1/transactions/{tx}/cost")).json()
        assert cost["tariff_level"] == "area" and cost["final"] is True
        assert cost["cost"] == {"excl_vat": "1.23", "incl_vat": "1.23"} and cost["energy_wh"] == 4_100
        await bus.drain()
        stats = _billing(bus)
        assert min(sent) > 0 and stats.failed == 0 and stats.dropped == 0
    finally:
        await app.stop()

"""End to end: a real OCPP 1.6 client charges; the running cost, the CDR, the monetary limit, reviews.

The site is in Europe/Amsterdam (UTC+1 in January). Times below are UTC; the comments give local time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import bearer
from tests.billing.billing_helpers import (
    WAIT,
    BillingCharger,
    charge,
    expect,
    make_site,
    make_tariff,
    make_token,
    meter,
    register,
    settled,
    start,
    status,
    stop,
)
from tests.chargers import connected
from tests.conftest import ADMIN_TOKEN, api_url, ocpp_url
from voltbridge.app import App
from voltbridge.billing import CdrCreated, CdrFilter, SessionCostUpdated, SessionHeld, SessionLimitReached

# 2025-01-15 is a Wednesday; 15:30Z is 16:30 in Amsterdam.
T0 = datetime(2025, 1, 15, 15, 30, tzinfo=UTC)

TIME_OF_DAY_WITH_IDLE_FEE: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": 0.40, "vat": 21, "step_size": 1}],
            "restrictions": {"start_time": "17:00", "end_time": "21:00"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 21, "step_size": 60}]},
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 21, "step_size": 0}]},
    ],
}


@pytest.fixture
async def client(app: App) -> Any:
    async with httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10) as c:
        yield c


async def test_a_time_of_day_session_with_an_idle_fee_gets_the_hand_computed_cdr(
    app: App, client: httpx.AsyncClient
) -> None:
    await make_site(client, "TOD", ["CP-TOD"], rating_rate_idle=True)
    await make_tariff(client, TIME_OF_DAY_WITH_IDLE_FEE, station_id="CP-TOD")
    await make_token(client, "DRIVER1")
    signed = 'OCMF|{"RD":[{"RV":19.0,"RU":"kWh"}]}|{"SD":"3045022100ab"}'
    async with connected(ocpp_url(app), "CP-TOD", charger_class=BillingCharger) as charger:
        await charger.boot()
        await status(charger, "Charging", T0)
        await status(charger, "SuspendedEV", T0 + timedelta(minutes=90))  # 18:00: the car is full
        tx = await start(charger, id_tag="DRIVER1", at=T0, meter_start=10_000)  # 16:30
        first = expect(app, SessionCostUpdated, transaction_id=tx, energy_wh=3_500)
        await meter(charger, tx, register(T0 + timedelta(minutes=30), 13_500))  # 17:00, 3.5 kWh off-peak
        running = await settled(first)
        # 3.5 kWh at 0.25 plus the 0.50 start fee, so far.
        assert str(running.excl_vat) == "1.38" and str(running.incl_vat) == "1.66"
        await meter(charger, tx, register(T0 + timedelta(minutes=60), 17_000))  # 17:30, 3.5 kWh peak
        await meter(
            charger,
            tx,
            register(
                T0 + timedelta(minutes=90),  # 18:00, 2.0 kWh peak
                19_000,
                more=[
                    {
                        "value": signed,
                        "format": "SignedData",
                        "measurand": "Energy.Active.Import.Register",
                        "context": "Sample.Periodic",
                    }
                ],
            ),
        )
        await meter(charger, tx, register(T0 + timedelta(minutes=120), 19_000))  # 18:30, idle
        issued = expect(app, CdrCreated, transaction_id=tx)
        final = expect(app, SessionCostUpdated, transaction_id=tx, final=True)
        await stop(charger, tx, at=T0 + timedelta(minutes=135), meter_stop=19_000)  # 18:45
        created = await settled(issued)
        await settled(final)

    # By hand: energy 3.5 kWh x 0.25 + 5.5 kWh x 0.40 = 3.075; idle 45 min x 6.00/h = 4.50; start fee
    # 0.50. Excl. VAT 8.075 -> 8.08; incl. 21 % VAT 9.77075 -> 9.77.
    assert (str(created.total_excl_vat), str(created.total_incl_vat)) == ("8.08", "9.77")
    listed = (await client.get("/api/v1/cdrs", params={"transaction_id": tx})).json()
    assert listed["total"] == 1
    cdr = listed["items"][0]
    assert cdr["energy_wh"] == 9_000 and cdr["currency"] == "EUR"
    assert cdr["total_cost"] == {"excl_vat": "8.08", "incl_vat": "9.77"}
    assert cdr["total_energy_cost"] == {"excl_vat": "3.08", "incl_vat": "3.72"}
    assert cdr["total_parking_cost"] == {"excl_vat": "4.50", "incl_vat": "5.45"}
    assert cdr["total_fixed_cost"] == {"excl_vat": "0.50", "incl_vat": "0.61"}
    assert cdr["charging_time_s"] == 90 * 60 and cdr["idle_time_s"] == 45 * 60
    assert cdr["start_date_time"] == "2025-01-15T15:30:00.000Z"
    assert (
        cdr["start_local"] == "2025-01-15T16:30:00+01:00" and cdr["end_local"] == "2025-01-15T18:45:00+01:00"
    )
    assert cdr["timezone"] == "Europe/Amsterdam"
    assert cdr["meter_start_wh"] == 10_000 and cdr["meter_stop_wh"] == 19_000
    assert cdr["stop_reason"] == "EVDisconnected" and cdr["flags"] == []
    assert cdr["tariff"]["elements"][0]["restrictions"]["start_time"] == "17:00"
    assert [d["data"] for d in cdr["signed_data"]] == [signed]
    kinds = [(p["kind"], p["start_date_time"]) for p in cdr["charging_periods"]]
    assert kinds == [
        ("CHARGING", "2025-01-15T15:30:00.000Z"),
        ("CHARGING", "2025-01-15T16:00:00.000Z"),
        ("CHARGING", "2025-01-15T16:30:00.000Z"),
        ("PARKING", "2025-01-15T17:00:00.000Z"),
        ("PARKING", "2025-01-15T17:30:00.000Z"),
    ]
    energy = [p["dimensions"][0] for p in cdr["charging_periods"][:3]]
    assert [d["volume"] for d in energy] == ["3.5", "3.5", "2"]
    ocpi = (await client.get(f"/api/v1/cdrs/{cdr['id']}/ocpi")).json()
    assert ocpi["total_cost"] == {"excl_vat": 8.08, "incl_vat": 9.77}
    assert ocpi["signed_data"]["encoding_method"] == "OCMF"
    assert ocpi["total_parking_time"] == 0.75 and ocpi["total_energy"] == 9
    # The running cost at the session's end equals the CDR total.
    cost = (await client.get(f"/api/v1/transactions/{tx}/cost")).json()
    assert cost["final"] is True and cost["cost"] == {"excl_vat": "8.08", "incl_vat": "9.77"}
    assert cost["tariff_level"] == "station" and cost["energy_wh"] == 9_000


async def test_the_monetary_limit_stops_the_session_remotely(app: App, client: httpx.AsyncClient) -> None:
    await make_site(client, "LIM", ["CP-LIM"], session_limit={"amount": "2.00", "currency": "EUR"})
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.50, "vat": 0, "step_size": 1}]}],
    }
    await make_tariff(client, tariff, station_id="CP-LIM")
    await make_token(client, "DRIVER2")
    async with connected(ocpp_url(app), "CP-LIM", charger_class=BillingCharger) as charger:
        await charger.boot()
        tx = await start(charger, id_tag="DRIVER2", at=T0, meter_start=0)
        below = expect(app, SessionCostUpdated, transaction_id=tx, energy_wh=2_000)
        await meter(charger, tx, register(T0 + timedelta(minutes=15), 2_000))  # 1.00 EUR
        await settled(below)
        assert charger.stop_requested.empty()
        reached = expect(app, SessionLimitReached, transaction_id=tx)
        await meter(charger, tx, register(T0 + timedelta(minutes=30), 4_200))  # 2.10 EUR: over the limit
        asked = await asyncio.wait_for(charger.stop_requested.get(), WAIT)
        assert asked == tx
        limit = await settled(reached)
        assert limit.command_status == "Accepted" and str(limit.incl_vat) == "2.10"
        issued = expect(app, CdrCreated, transaction_id=tx)
        await stop(charger, tx, at=T0 + timedelta(minutes=31), meter_stop=4_250, reason="Remote")
        await settled(issued)
    cdr = (await client.get("/api/v1/cdrs", params={"transaction_id": tx})).json()["items"][0]
    assert cdr["stop_reason"] == "monetary limit reached" and cdr["remark"] == "monetary limit reached"
    assert cdr["total_cost"] == {"excl_vat": "2.13", "incl_vat": "2.13"}
    cost = (await client.get(f"/api/v1/transactions/{tx}/cost")).json()
    assert cost["stop_reason"] == "monetary limit reached" and cost["limit_command_status"] == "Accepted"
    assert cost["session_limit"] == {"amount": "2.00", "currency": "EUR"}
    commands = (await client.get("/api/v1/stations/CP-LIM/commands")).json()
    sent = [c for c in commands["items"] if c["action"] == "RemoteStopTransaction"]
    assert len(sent) == 1 and sent[0]["source"] == "billing"


async def test_a_meter_reset_is_held_for_review_then_approved_and_corrected_with_audit(
    app: App, client: httpx.AsyncClient
) -> None:
    await make_site(client, "RST", ["CP-RST"])
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}]}],
    }
    await make_tariff(client, tariff, station_id="CP-RST")
    await make_token(client, "DRIVER3")
    async with connected(ocpp_url(app), "CP-RST", charger_class=BillingCharger) as charger:
        await charger.boot()
        tx, outcome = await charge(
            app,
            charger,
            id_tag="DRIVER3",
            start_at=T0,
            meter_start=10_000,
            readings=[(T0 + timedelta(minutes=20), 12_000), (T0 + timedelta(minutes=40), 300)],
            stop_at=T0 + timedelta(minutes=60),
            meter_stop=800,
        )
    assert isinstance(outcome, SessionHeld)
    assert outcome.reasons == ["negative_energy", "register_reset"]
    assert (await client.get("/api/v1/cdrs", params={"transaction_id": tx})).json()["total"] == 0
    pending = (await client.get("/api/v1/session-reviews", params={"status": "pending"})).json()
    assert [r["transaction_id"] for r in pending["items"]] == [tx]
    review = (await client.get(f"/api/v1/session-reviews/{tx}")).json()
    assert review["status"] == "pending"
    assert "12000 Wh to 300 Wh" in review["reasons"][1]["detail"]

    approved = await client.post(
        f"/api/v1/session-reviews/{tx}/approve", json={"note": "meter swapped mid-session"}
    )
    assert approved.status_code == 201, approved.text
    cdr = approved.json()
    # 2.0 kWh before the reset and 0.5 kWh after it, at 0.30: 0.75 excl., 0.9075 -> 0.91 incl.
    assert cdr["energy_wh"] == 2_500 and cdr["total_cost"] == {"excl_vat": "0.75", "incl_vat": "0.91"}
    assert cdr["flags"] == ["negative_energy", "register_reset"]
    again = await client.post(f"/api/v1/session-reviews/{tx}/approve", json={"note": "twice"})
    assert again.status_code == 409

    corrected = await client.post(
        f"/api/v1/cdrs/{cdr['id']}/corrections", json={"note": "the new meter read 3 kWh", "energy_wh": 3_000}
    )
    assert corrected.status_code == 201, corrected.text
    credit, new = corrected.json()["credit"], corrected.json()["cdr"]
    assert credit["credit"] is True and credit["credit_reference_id"] == cdr["id"]
    assert credit["total_cost"] == {"excl_vat": "-0.75", "incl_vat": "-0.91"}
    assert new["supersedes_id"] == cdr["id"] and new["energy_wh"] == 3_000
    assert new["total_cost"] == {"excl_vat": "0.90", "incl_vat": "1.09"}
    assert new["correction"]["energy_wh"] == 3_000
    twice = await client.post(f"/api/v1/cdrs/{cdr['id']}/corrections", json={"note": "again", "energy_wh": 1})
    assert twice.status_code == 409
    original = (await client.get(f"/api/v1/cdrs/{cdr['id']}")).json()
    assert original == cdr  # never changed
    audit = (await client.get("/api/v1/audit", params={"entity": "session_review"})).json()["items"]
    assert audit[0]["action"] == "approve" and audit[0]["note"] == "meter swapped mid-session"
    audit = (await client.get("/api/v1/audit", params={"entity": "cdr"})).json()["items"]
    assert audit[0]["action"] == "correct" and audit[0]["after"]["new_cdr_id"] == new["id"]


async def test_a_session_too_short_to_rate_is_held_and_corrected_to_not_billable(
    app: App, client: httpx.AsyncClient
) -> None:
    await make_site(client, "SHORT", ["CP-SHORT"], rating_min_duration_s=300)
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "FLAT", "price": 1.00, "vat": 21, "step_size": 0}]}],
    }
    await make_tariff(client, tariff, station_id="CP-SHORT")
    await make_token(client, "DRIVER4")
    async with connected(ocpp_url(app), "CP-SHORT", charger_class=BillingCharger) as charger:
        await charger.boot()
        tx, outcome = await charge(
            app,
            charger,
            id_tag="DRIVER4",
            start_at=T0,
            meter_start=500,
            readings=[],
            stop_at=T0 + timedelta(minutes=2),
            meter_stop=600,
        )
    assert isinstance(outcome, SessionHeld) and outcome.reasons == ["too_short_to_rate"]
    corrected = await client.post(
        f"/api/v1/session-reviews/{tx}/correct", json={"note": "plugged in and left", "billable": False}
    )
    assert corrected.status_code == 201, corrected.text
    cdr = corrected.json()
    assert cdr["total_cost"] == {"excl_vat": "0.00", "incl_vat": "0.00"} and cdr["energy_wh"] == 100
    assert cdr["remark"] == "not billable: plugged in and left" and cdr["correction"]["billable"] is False
    assert cdr["flags"] == ["too_short_to_rate"]
    review = (await client.get(f"/api/v1/session-reviews/{tx}")).json()
    assert (
        review["status"] == "corrected"
        and review["cdr_id"] == cdr["id"]
        and review["decided_by"] == "admin-token"
    )
    bad = await client.post(f"/api/v1/session-reviews/{tx}/correct", json={"note": "again"})
    assert bad.status_code == 409
    missing = await client.post("/api/v1/session-reviews/999/approve", json={"note": "no such session"})
    assert missing.status_code == 404


async def test_a_session_whose_stop_event_was_missed_is_settled_later(make_app: Any) -> None:
    from voltbridge.store.models import Station, Transaction

    app = await make_app(http=False)
    now = app.clock.now()
    async with app.db.transaction() as session:
        session.add(Station(id="CP-LOST", created_at=now, updated_at=now))
        await session.flush()
        tx = Transaction(
            station_id="CP-LOST",
            connector_id=1,
            id_tag="LOST",
            status="completed",
            started_at=now - timedelta(hours=2),
            stopped_at=now - timedelta(hours=1),
            meter_start_wh=0,
            meter_stop_wh=1_500,
            energy_wh=1_500,
            flags=[],
            created_at=now,
            updated_at=now,
        )
        session.add(tx)
    assert await app.billing.cdrs.settle_missing(since=now - timedelta(days=1)) == 1
    rows, total = await app.billing.cdrs.get_all(CdrFilter(transaction_id=tx.id))
    assert total == 1 and rows[0].energy_wh == 1_500 and rows[0].flags == ["no_tariff"]
    assert await app.billing.cdrs.settle_missing(since=now - timedelta(days=1)) == 0

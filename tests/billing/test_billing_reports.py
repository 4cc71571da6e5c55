"""Billing reports over sessions a real charger charged: ERE and home-charging CSVs by hand, revenue,
commission and scoping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api.conftest import bearer, user_client
from tests.billing.billing_helpers import BillingCharger, charge, make_site, make_tariff, make_token
from tests.chargers import connected
from tests.conftest import ADMIN_TOKEN, api_url, ocpp_url
from voltbridge.app import App
from voltbridge.billing import SessionHeld

EAN_1 = "871712345678901230"
EAN_2 = "871000000000000013"


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url(app), headers=bearer(ADMIN_TOKEN), timeout=10) as c:
        yield c


async def metering(client: httpx.AsyncClient, station_id: str, **fields: object) -> None:
    response = await client.patch(f"/api/v1/stations/{station_id}/metering", json=fields)
    assert response.status_code == 200, response.text


async def session(
    app: App, station_id: str, start_at: datetime, kwh_wh: int, *, id_tag: str = "EMP1", jump: bool = False
) -> tuple[int, object]:
    """One hour of charging `kwh_wh` Wh on the station (a single jump instead of two halves if `jump`)."""
    async with connected(ocpp_url(app), station_id, charger_class=BillingCharger) as charger:
        await charger.boot()
        halfway = (
            [(start_at + timedelta(minutes=10), kwh_wh)]
            if jump
            else [(start_at + timedelta(minutes=30), kwh_wh // 2)]
        )
        return await charge(
            app,
            charger,
            id_tag=id_tag,
            start_at=start_at,
            meter_start=0,
            readings=halfway,
            stop_at=start_at + timedelta(minutes=60),
            meter_stop=kwh_wh,
        )


def csv_lines(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return response.text.splitlines()


async def test_the_ere_report_and_its_sessions_match_the_hand_computed_figures(
    app: App, client: httpx.AsyncClient
) -> None:
    await make_site(client, "ERE", ["ERE-A", "ERE-B", "ERE-C"], energy_step_delta_wh=20_000)
    await make_token(client, "EMP1")
    await metering(
        client, "ERE-A", mid_meter=True, mid_meter_serial="M-1", mid_certificate="T10-001", grid_ean=EAN_1
    )
    await metering(client, "ERE-B", mid_meter=False, grid_ean=EAN_1)
    await metering(client, "ERE-C", mid_meter=True, bidirectional=True, grid_ean=EAN_2)
    # 00:30 on 1 January 2025 in Amsterdam: delivery year 2025 although it is still 2024 in UTC.
    await session(app, "ERE-A", datetime(2024, 12, 31, 23, 30, tzinfo=UTC), 2_000)
    await session(app, "ERE-A", datetime(2025, 3, 10, 10, 0, tzinfo=UTC), 10_000)
    await session(app, "ERE-A", datetime(2025, 6, 1, 8, 0, tzinfo=UTC), 5_500)
    _, held = await session(app, "ERE-A", datetime(2025, 7, 1, 8, 0, tzinfo=UTC), 25_000, jump=True)
    assert isinstance(held, SessionHeld) and held.reasons == ["implausible_delta", "no_tariff"]
    await session(app, "ERE-B", datetime(2025, 4, 2, 9, 0, tzinfo=UTC), 8_000)
    await session(app, "ERE-C", datetime(2025, 5, 5, 9, 0, tzinfo=UTC), 4_000)
    # 22:30 on 31 December 2024 in Amsterdam: delivery year 2024, outside the report.
    await session(app, "ERE-A", datetime(2024, 12, 31, 21, 30, tzinfo=UTC), 1_000)

    response = await client.get(
        "/api/v1/reports/ere", params={"year": 2025, "renewable_share": "0.5", "format": "csv"}
    )
    # Rows by EAN, then station. ERE-A: 2 + 10 + 5.5 = 17.5 kWh eligible; 17.5 x 0.5 x 183 x 3.6 / 1000 = 5.7645 -> 5.765 EREs.
    assert csv_lines(response) == [
        "grid_ean,station_id,delivery_year,sessions,total_kwh,eligible_sessions,eligible_kwh,"
        "excluded_kwh_invalid_session,excluded_kwh_no_mid_meter,excluded_kwh_bidirectional,excluded_kwh_no_ean,"
        "renewable_share,emission_factor_g_per_mj,mj_per_kwh,eres",
        f"{EAN_2},ERE-C,2025,1,4.000,0,0.000,0.000,0.000,4.000,0.000,0.5,183,3.6,0.000",
        f"{EAN_1},ERE-A,2025,4,42.500,3,17.500,25.000,0.000,0.000,0.000,0.5,183,3.6,5.765",
        f"{EAN_1},ERE-B,2025,1,8.000,0,0.000,0.000,8.000,0.000,0.000,0.5,183,3.6,0.000",
    ]
    sessions = csv_lines(
        await client.get(
            "/api/v1/reports/ere-sessions", params={"year": 2025, "renewable_share": "0.5", "format": "csv"}
        )
    )
    assert sessions[0].startswith("transaction_id,cdr_id,station_id,grid_ean,delivery_year,start,start_local")
    rows = [line.split(",") for line in sessions[1:]]
    assert [(r[2], r[9], r[13], r[14], r[15], r[17]) for r in rows] == [
        ("ERE-C", "4.000", "true", "false", "bidirectional", "0.000"),
        ("ERE-A", "2.000", "true", "true", "", "0.659"),
        ("ERE-A", "10.000", "true", "true", "", "3.294"),
        ("ERE-A", "5.500", "true", "true", "", "1.812"),
        ("ERE-A", "25.000", "false", "false", "invalid_session", "0.000"),
        ("ERE-B", "8.000", "true", "false", "no_mid_meter", "0.000"),
    ]
    assert rows[1][6] == "2025-01-01T00:30:00+01:00"
    unconfigured = (await client.get("/api/v1/reports/ere", params={"year": 2025})).json()
    assert unconfigured["items"][0]["eres"] is None and "2025" in unconfigured["notes"][0]


async def test_home_charging_reimbursement_matches_the_hand_computed_figures(
    app: App, client: httpx.AsyncClient
) -> None:
    site = await make_site(client, "HOME", ["H-ALICE", "H-BOB", "PUBLIC-1"])
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1}]}],
    }
    await make_tariff(client, tariff, area_id=site.area_id)
    await make_token(client, "EMP1")
    await metering(client, "H-ALICE", home_charger=True, home_owner="alice", mid_meter=True)
    await metering(client, "H-BOB", home_charger=True, home_owner="bob", mid_meter=False)
    await session(app, "H-ALICE", datetime(2025, 1, 10, 18, 0, tzinfo=UTC), 7_500)
    await session(app, "H-ALICE", datetime(2025, 1, 20, 18, 0, tzinfo=UTC), 12_000)
    await session(app, "H-ALICE", datetime(2025, 2, 3, 18, 0, tzinfo=UTC), 4_200)
    await session(app, "H-BOB", datetime(2025, 1, 12, 18, 0, tzinfo=UTC), 6_000)
    await session(app, "PUBLIC-1", datetime(2025, 1, 15, 18, 0, tzinfo=UTC), 9_000)

    period = {"from": "2025-01-01", "to": "2025-03-01", "format": "csv"}
    fixed = csv_lines(
        await client.get(
            "/api/v1/reports/home-charging",
            params={**period, "price_per_kwh": "0.30", "monthly_cap": "5.00", "mid_only": "true"},
        )
    )
    assert fixed[0] == (
        "person,period,period_start,period_end,period_start_local,timezone,stations,sessions,energy_wh,kwh,basis,"
        "price_per_kwh,max_price_per_kwh,uncapped_amount,monthly_cap,amount,currency,excluded_sessions_not_mid,"
        "excluded_kwh_not_mid"
    )
    # alice, January: 19.5 kWh x 0.30 = 5.85, capped at 5.00; February: 4.2 kWh x 0.30 = 1.26.
    # bob's home charger has no MID meter: nothing, and the session is listed as excluded.
    assert fixed[1:] == [
        "alice,2025-01,2024-12-31T23:00:00.000Z,2025-01-31T23:00:00.000Z,2025-01-01T00:00:00+01:00,"
        "Europe/Amsterdam,H-ALICE,2,19500,19.500,fixed,0.30,,5.85,5.00,5.00,EUR,0,0.000",
        "alice,2025-02,2025-01-31T23:00:00.000Z,2025-02-28T23:00:00.000Z,2025-02-01T00:00:00+01:00,"
        "Europe/Amsterdam,H-ALICE,1,4200,4.200,fixed,0.30,,1.26,5.00,1.26,EUR,0,0.000",
        "bob,2025-01,2024-12-31T23:00:00.000Z,2025-01-31T23:00:00.000Z,2025-01-01T00:00:00+01:00,"
        "Europe/Amsterdam,,0,0,0.000,fixed,0.30,,0.00,5.00,0.00,EUR,1,6.000",
    ]
    by_tariff = (
        await client.get(
            "/api/v1/reports/home-charging",
            params={"from": "2025-01-01", "to": "2025-03-01", "mode": "tariff", "max_price_per_kwh": "0.40"},
        )
    ).json()
    # Each session's tariff price incl. VAT (0.35 + 21 %), but at most 0.40 per kWh:
    # 7.5 kWh: min(3.18, 3.00); 12 kWh: min(5.08, 4.80); 4.2 kWh: min(1.78, 1.68); bob 6 kWh: min(2.54, 2.40).
    amounts = [(r["person"], r["period"], r["amount"]) for r in by_tariff["items"]]
    assert amounts == [("alice", "2025-01", "7.80"), ("alice", "2025-02", "1.68"), ("bob", "2025-01", "2.40")]


async def test_billed_revenue_and_commission_are_scoped_to_the_operator(
    app: App, client: httpx.AsyncClient
) -> None:
    one = await make_site(client, "REV1", ["REV1-CP"])
    two = await make_site(client, "REV2", ["REV2-CP"])
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 21, "step_size": 1}]}],
    }
    await make_tariff(client, tariff, area_id=one.area_id)
    await make_tariff(client, {**tariff, "id": "T-REV2"}, area_id=two.area_id)
    await make_token(client, "EMP1")
    commission = await client.put(
        f"/api/v1/operators/{one.operator_id}/commission",
        json={"currency": "EUR", "operator_share_percent": "70"},
    )
    assert commission.status_code == 200, commission.text
    await session(app, "REV1-CP", datetime(2025, 3, 3, 9, 0, tzinfo=UTC), 10_000)
    await session(app, "REV1-CP", datetime(2025, 3, 20, 9, 0, tzinfo=UTC), 2_500)
    await session(app, "REV2-CP", datetime(2025, 3, 5, 9, 0, tzinfo=UTC), 1_000)
    params = {"from": "2025-03-01", "to": "2025-04-01"}
    revenue = (await client.get("/api/v1/reports/billed-revenue", params=params)).json()
    figures = [
        (r["operator_code"], r["sessions"], r["kwh"], r["revenue_excl_vat"], r["revenue_incl_vat"])
        for r in revenue["items"]
    ]
    # 12.5 kWh x 0.40 = 5.00 (6.05 incl.); 1 kWh x 0.40 = 0.40 (0.48 incl.).
    assert figures == [("REV1", 2, "12.500", "5.00", "6.05"), ("REV2", 1, "1.000", "0.40", "0.48")]
    commission_report = (await client.get("/api/v1/reports/billed-commission", params=params)).json()
    first = commission_report["items"][0]
    assert (first["operator_share"], first["platform_share"], first["revenue_basis"]) == (
        "3.50",
        "1.50",
        "cdrs",
    )
    assert commission_report["items"][1]["operator_share"] is None

    operator_user = await user_client(
        client,
        email="rev1@example.com",
        password="a-long-password",
        role="operator",
        operator_id=one.operator_id,
    )
    async with operator_user:
        mine = (await operator_user.get("/api/v1/reports/billed-revenue", params=params)).json()
        assert [r["operator_code"] for r in mine["items"]] == ["REV1"]
        other = await operator_user.get(
            "/api/v1/reports/ere", params={**params, "operator_id": two.operator_id}
        )
        assert other.status_code == 404
        cdrs = (await operator_user.get("/api/v1/cdrs")).json()
        assert cdrs["total"] == 2 and {c["station_id"] for c in cdrs["items"]} == {"REV1-CP"}
    # The operators' own report names still reach their router.
    consumption = await client.get("/api/v1/reports/consumption", params=params)
    assert consumption.status_code == 200 and consumption.json()["report"] == "consumption"

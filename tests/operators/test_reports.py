"""Reports: local days and months across a DST change, exact CSV figures, commission shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.operators.conftest import World, charge
from voltbridge.bus import LocalBus

# Europe/Amsterdam leaves summer time on Sunday 2025-10-26 at 01:00 UTC (03:00 CEST -> 02:00 CET):
# that local day lasts 25 hours, from 2025-10-25T22:00Z to 2025-10-26T23:00Z.
SESSIONS = (  # start (UTC), minutes, Wh; the local day in Amsterdam in the comment
    (datetime(2025, 10, 25, 21, 30, tzinfo=UTC), 30, 1_500),  # Sat 25, 23:30 CEST
    (datetime(2025, 10, 25, 22, 30, tzinfo=UTC), 45, 2_000),  # Sun 26, 00:30 CEST
    (datetime(2025, 10, 26, 0, 30, tzinfo=UTC), 60, 3_250),  # Sun 26, 02:30 CEST (the first 02:30)
    (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), 20, 4_125),  # Sun 26, 02:30 CET (the second 02:30)
    (datetime(2025, 10, 26, 22, 30, tzinfo=UTC), 25, 1_000),  # Sun 26, 23:30 CET
    (datetime(2025, 10, 26, 23, 30, tzinfo=UTC), 1, 100),  # Mon 27, 00:30 CET: too short to bill
)


async def _hotel_sessions(world: World) -> None:
    await world.admin.patch(
        f"/api/v1/operators/{world.hotel['id']}",
        json={"rating_min_duration_s": 120, "rating_min_energy_wh": 200},
    )
    for start, minutes, wh in SESSIONS:
        await charge(world.app, "CP-H1", start, minutes=minutes, wh=wh)


async def test_daily_consumption_follows_the_operators_days_across_the_dst_change(world: World) -> None:
    await _hotel_sessions(world)
    response = await world.as_hotel.get(
        "/api/v1/reports/consumption", params={"from": "2025-10-25", "to": "2025-10-28", "group_by": "day"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 3
    rows = {r["period"]: r for r in body["items"]}
    assert {p: (r["sessions"], r["energy_wh"], r["kwh"]) for p, r in rows.items()} == {
        "2025-10-25": (1, 1_500, "1.500"),
        "2025-10-26": (4, 10_375, "10.375"),
        "2025-10-27": (1, 100, "0.100"),
    }
    long_day = rows["2025-10-26"]
    assert long_day["period_start"] == "2025-10-25T22:00:00.000Z"
    assert long_day["period_end"] == "2025-10-26T23:00:00.000Z"
    assert long_day["period_start_local"] == "2025-10-26T00:00:00+02:00"
    assert long_day["period_end_local"] == "2025-10-27T00:00:00+01:00"
    assert long_day["timezone"] == "Europe/Amsterdam" and long_day["operator_code"] == "HOTEL"


async def test_monthly_consumption_runs_from_local_midnight_to_local_midnight(world: World) -> None:
    await _hotel_sessions(world)
    body = (
        await world.admin.get(
            "/api/v1/reports/consumption",
            params={
                "from": "2025-10-01",
                "to": "2025-11-01",
                "group_by": "month",
                "operator_id": world.hotel["id"],
            },
        )
    ).json()
    assert [(r["period"], r["sessions"], r["energy_wh"]) for r in body["items"]] == [("2025-10", 6, 11_975)]
    month = body["items"][0]
    assert (month["period_start"], month["period_end"]) == (
        "2025-09-30T22:00:00.000Z",
        "2025-10-31T23:00:00.000Z",
    )
    assert (month["period_start_local"], month["period_end_local"]) == (
        "2025-10-01T00:00:00+02:00",
        "2025-11-01T00:00:00+01:00",
    )


async def test_each_operator_is_reported_in_its_own_time_zone(world: World) -> None:
    # 03:30 UTC on the 26th is still the evening of the 25th in New York (EDT, UTC-4).
    await charge(world.app, "CP-P1", datetime(2025, 10, 26, 3, 30, tzinfo=UTC), minutes=30, wh=800)
    await charge(world.app, "CP-H1", datetime(2025, 10, 26, 3, 30, tzinfo=UTC), minutes=30, wh=900)
    body = (
        await world.admin.get(
            "/api/v1/reports/consumption", params={"from": "2025-10-25", "to": "2025-10-27"}
        )
    ).json()
    assert [(r["operator_code"], r["period"], r["timezone"], r["period_start"]) for r in body["items"]] == [
        ("HOTEL", "2025-10-26", "Europe/Amsterdam", "2025-10-25T22:00:00.000Z"),
        ("PARK", "2025-10-25", "America/New_York", "2025-10-25T04:00:00.000Z"),
    ]


async def test_the_commission_report_csv_has_exact_figures_and_shares(world: World) -> None:
    await _hotel_sessions(world)
    terms = {
        "currency": "EUR",
        "price_per_kwh": "0.30",
        "price_per_session": "0.50",
        "operator_share_percent": "70",
    }
    assert (
        await world.admin.put(f"/api/v1/operators/{world.hotel['id']}/commission", json=terms)
    ).status_code == 200
    response = await world.as_hotel.get(
        "/api/v1/reports/commission", params={"from": "2025-10-25", "to": "2025-10-28", "format": "csv"}
    )
    assert response.status_code == 200
    assert (
        'filename="commission_2025-10-25_2025-10-28_day_operator.csv"'
        in response.headers["content-disposition"]
    )
    hotel = world.hotel["id"]
    assert response.text.splitlines() == [
        "operator_id,operator_code,period,period_start,period_end,period_start_local,period_end_local,timezone,"
        "billable_sessions,billable_kwh,revenue,operator_share_percent,operator_share,platform_share,currency,"
        "revenue_basis",
        # 1.5 kWh x 0.30 + 1 x 0.50 = 0.95; 70 % = 0.665 -> 0.67 (halves up); the platform keeps the rest.
        f"{hotel},HOTEL,2025-10-25,2025-10-24T22:00:00.000Z,2025-10-25T22:00:00.000Z,2025-10-25T00:00:00+02:00,"
        "2025-10-26T00:00:00+02:00,Europe/Amsterdam,1,1.500,0.95,70.00,0.67,0.28,EUR,commission_prices",
        # 10.375 kWh x 0.30 + 4 x 0.50 = 5.1125 -> 5.11; 70 % = 3.577 -> 3.58.
        f"{hotel},HOTEL,2025-10-26,2025-10-25T22:00:00.000Z,2025-10-26T23:00:00.000Z,2025-10-26T00:00:00+02:00,"
        "2025-10-27T00:00:00+01:00,Europe/Amsterdam,4,10.375,5.11,70.00,3.58,1.53,EUR,commission_prices",
        # The one session of the 27th is below the operator's minimum duration and energy.
        f"{hotel},HOTEL,2025-10-27,2025-10-26T23:00:00.000Z,2025-10-27T23:00:00.000Z,2025-10-27T00:00:00+01:00,"
        "2025-10-28T00:00:00+01:00,Europe/Amsterdam,0,0.000,0.00,70.00,0.00,0.00,EUR,commission_prices",
    ]


async def test_the_revenue_report_says_where_its_revenue_comes_from(world: World) -> None:
    await _hotel_sessions(world)
    params = {"from": "2025-10-26", "to": "2025-10-27", "per": "station"}
    before = (await world.admin.get("/api/v1/reports/revenue", params=params)).json()
    assert before["items"][0]["revenue"] is None and before["items"][0]["revenue_basis"] == "none"
    terms = {"currency": "EUR", "price_per_kwh": "0.25", "operator_share_percent": "50"}
    await world.admin.put(f"/api/v1/operators/{world.hotel['id']}/commission", json=terms)
    body = (await world.admin.get("/api/v1/reports/revenue", params=params)).json()
    assert "commission price" in body["revenue_note"]
    row = body["items"][0]
    assert (row["station_id"], row["area_code"], row["sessions"], row["billable_sessions"]) == (
        "CP-H1",
        "AMS-LOBBY",
        4,
        4,
    )
    assert (row["revenue"], row["currency"], row["revenue_basis"]) == (
        "2.59",
        "EUR",
        "commission_prices",
    )  # 2.59375


async def test_csv_exports_carry_the_whole_report_not_a_page(world: World) -> None:
    first = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    for day in range(130):
        await charge(world.app, "CP-P1", first + timedelta(days=day), minutes=30, wh=1_000 + day)
    params = {"from": "2025-01-01", "to": "2025-06-01", "format": "csv"}
    lines = (await world.as_park.get("/api/v1/reports/consumption", params=params)).text.splitlines()
    assert len(lines) == 1 + 130
    assert lines[-1].endswith(",America/New_York,1,1129,1.129")
    as_json = (
        await world.as_park.get("/api/v1/reports/consumption", params={**params, "format": "json"})
    ).json()
    assert as_json["total"] == len(as_json["items"]) == 130
    # 260 session events are still on their way to the bus's subscribers: let them arrive before teardown.
    assert isinstance(world.app.bus, LocalBus)
    await world.app.bus.drain()


async def test_report_requests_are_checked(world: World) -> None:
    for params in (
        {"from": "2025-10-02", "to": "2025-10-01"},
        {"from": "2025-10-01T00:00:00", "to": "2025-10-02"},
        {"from": "yesterday", "to": "2025-10-02"},
        {"from": "2020-01-01", "to": "2025-01-01"},
        {"from": "2025-10-01", "to": "2025-10-02", "group_by": "week"},
    ):
        response = await world.admin.get("/api/v1/reports/consumption", params=params)
        assert response.status_code == 422, (params, response.text)
    assert (
        await world.admin.get("/api/v1/reports/nonsense", params={"from": "2025-10-01", "to": "2025-10-02"})
    ).status_code == 422
    exact = await world.admin.get(
        "/api/v1/reports/consumption",
        params={"from": "2025-10-01T00:00:00+02:00", "to": "2025-10-02T00:00:00Z"},
    )
    assert exact.status_code == 200

"""The worked examples of the OCPI 2.2.1 Tariffs module (OCPI-NOTES 10.6), priced from meter samples.

Each scenario is rebuilt as a session (samples at the phase changes, energy linear in between) in
Europe/Amsterdam and priced with the spec's example tariff. Where the texts disagree, the test names
the reading it asserts and checks the other one through its option.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.billing.tariff_helpers import AMSTERDAM, Phase, local, session_of, spec_tariff
from voltbridge.billing.tariffs import (
    Cost,
    PricingOptions,
    Reservation,
    StepBase,
    TimeStepRule,
    price_reservation,
    price_session,
)


def cost(excl: str, incl: str) -> Cost:
    return Cost(excl_vat=Decimal(excl), incl_vat=Decimal(incl))


def test_1_energy_only() -> None:
    result = price_session(
        spec_tariff("tariff_8_simple_025kwh.json"), session_of(local("2025-06-02 10:00"), [Phase(60, 20_000)])
    )
    assert result.total_cost == cost("5.00", "5.50")
    assert result.energy_cost == result.total_cost


def test_2_start_fee_and_energy() -> None:
    result = price_session(
        spec_tariff("tariff_9_025kwh_start.json"), session_of(local("2025-06-02 10:00"), [Phase(60, 20_000)])
    )
    assert result.total_cost == cost("5.50", "6.10")
    assert result.fixed_cost == cost("0.50", "0.60")


def test_3_min_price_only_bites_below_it() -> None:
    tariff = spec_tariff("tariff_12_025kwh_min_price.json")
    big = price_session(tariff, session_of(local("2025-06-02 10:00"), [Phase(60, 20_000)]))
    assert big.total_cost == cost("5.00", "5.50")
    assert not big.min_price_applied
    small = price_session(tariff, session_of(local("2025-06-02 10:00"), [Phase(60, 1_200)]))
    assert small.total_cost == cost("0.50", "0.55")
    assert small.min_price_applied


def test_4_start_fee_energy_and_parking_rounded_to_15_minutes() -> None:
    session = session_of(local("2025-06-02 10:00"), [Phase(60, 20_000), Phase(40, charging=False)])
    result = price_session(spec_tariff("tariff_10_025kwh_parking_start.json"), session)
    assert result.total_cost == cost("7.00", "7.90")
    assert result.parking_cost == cost("1.50", "1.80")  # 45 minutes billed


def test_5_max_price_caps_big_sessions_only() -> None:
    tariff = spec_tariff("tariff_6_025kwh_start_max_price.json")
    big = price_session(tariff, session_of(local("2019-03-01 10:00"), [Phase(300, 50_000)]))
    assert big.total_cost == cost("10.00", "11.00")
    assert big.max_price_applied
    assert big.warnings == ()
    small = price_session(tariff, session_of(local("2019-03-01 10:00"), [Phase(180, 30_000)]))
    assert small.total_cost == cost("8.00", "8.85")
    assert not small.max_price_applied


def test_5_a_tariff_past_its_end_date_still_prices_but_warns() -> None:
    tariff = spec_tariff("tariff_6_025kwh_start_max_price.json")
    result = price_session(tariff, session_of(local("2025-06-02 10:00"), [Phase(180, 30_000)]))
    assert result.total_cost == cost("8.00", "8.85")
    assert result.warnings == ("tariff_not_active_at_session_start",)


def test_6_time_only() -> None:
    result = price_session(
        spec_tariff("tariff_1_simple_2hour.json"), session_of(local("2025-06-02 10:00"), [Phase(150, 11_000)])
    )
    assert result.total_cost == cost("5.00", "5.50")


def test_7_charging_time_not_rounded_parking_time_rounded() -> None:
    session = session_of(local("2025-06-02 10:00"), [Phase(150, 11_000), Phase(42, charging=False)])
    result = price_session(spec_tariff("tariff_13_simple_3hour_5parking.json"), session)
    assert result.total_cost == cost("11.25", "12.75")
    assert result.time_cost == cost("7.50", "8.25")
    assert result.parking_cost == cost("3.75", "4.50")


def test_8_vat_rounds_to_the_advertised_price() -> None:
    result = price_session(
        spec_tariff("tariff_2_alt_text.json"), session_of(local("2025-06-02 10:00"), [Phase(150, 11_000)])
    )
    assert result.total_cost == cost("4.75", "5.00")  # 4.997 incl. VAT


def test_9_energy_step_of_100_wh() -> None:
    """The 2.2.1 numbers (20.45 kWh billed as 20.5); the 2.3.0 text drops its own step_size here."""
    result = price_session(
        spec_tariff("tariff_3_alt_url.json"), session_of(local("2025-06-02 10:00"), [Phase(120, 20_450)])
    )
    assert result.energy_cost == cost("5.13", "5.64")
    assert result.total_cost == cost("5.63", "6.24")


def test_10_complex_weekday_low_current_then_parking() -> None:
    session = session_of(
        local("2025-06-02 09:30"),  # a Monday
        [Phase(165, 20_000, current_a=Decimal(16)), Phase(42, charging=False, current_a=Decimal(0))],
    )
    result = price_session(spec_tariff("tariff_4_complex.json"), session)
    assert result.total_cost == cost("9.00", "10.30")
    assert result.fixed_cost == cost("2.50", "2.88")
    assert result.time_cost == cost("2.75", "3.30")
    assert result.parking_cost == cost("3.75", "4.13")


def test_10b_complex_saturday_high_current_then_parking() -> None:
    """The 2.2.1 numbers, 12.375 / 13.975; the 2.3.0 tables' 12.28 miscounts 114 minutes at 1.25/h."""
    session = session_of(
        local("2025-06-07 13:30"),  # a Saturday
        [Phase(114, 40_000, current_a=Decimal(43)), Phase(71, charging=False, current_a=Decimal(0))],
    )
    tariff = spec_tariff("tariff_4_complex.json")
    exact = price_session(tariff, session, PricingOptions(decimal_places=3))
    assert exact.total_cost == cost("12.375", "13.975")
    assert exact.parking_cost == cost("7.500", "8.250")  # 75 minutes billed
    assert price_session(tariff, session).total_cost == cost("12.38", "13.98")


def test_11_free_of_charge() -> None:
    result = price_session(
        spec_tariff("tariff_5_free_of_charge.json"),
        session_of(local("2025-06-02 10:00"), [Phase(60, 20_000), Phase(30, charging=False)]),
    )
    assert result.total_cost == cost("0.00", "0.00")


def test_12_switching_elements_parking_rounded_alone() -> None:
    """Decision: 0.55 (2.2.1 CDR chapter, 2.3.0, the `step_size` vector), not the 2.2.1 example's 0.383."""
    session = session_of(local("2025-06-02 16:55"), [Phase(10, 1_000), Phase(2, charging=False)])
    tariff = spec_tariff("tariff_14_step_size.json")
    ours = price_session(tariff, session)
    assert ours.total_cost == cost("0.55", "0.55")
    assert ours.time_cost == cost("0.30", "0.30")
    assert ours.parking_cost == cost("0.25", "0.25")
    together = PricingOptions(decimal_places=3, time_step_rule=TimeStepRule.TIME_AND_PARKING_TOGETHER)
    assert price_session(tariff, session, together).total_cost == cost("0.383", "0.383")


def test_12b_switching_elements_charging_time_rounded_as_a_whole() -> None:
    session = session_of(local("2025-06-02 16:35"), [Phase(35, 3_000)])
    tariff = spec_tariff("tariff_14_step_size.json")
    for rule in TimeStepRule:
        result = price_session(tariff, session, PricingOptions(time_step_rule=rule))
        assert result.total_cost == cost("1.30", "1.30"), rule
    last = price_session(tariff, session).periods[-1].components[0]
    assert last.billed_volume * 60 == Decimal(20)  # 10 minutes after 17:00 billed as 20


def test_12c_parking_into_a_free_window_rounds_only_the_priced_part() -> None:
    """Decision: 0.73 (release-2.3.0-bugfixes, ocpi/ocpi#546); the 2.2.1 text and tandemdrive give 0.78."""
    session = session_of(local("2025-06-02 19:40"), [Phase(12, 2_000), Phase(20, charging=False)])
    tariff = spec_tariff("tariff_14_step_size.json")
    assert price_session(tariff, session).total_cost == cost("0.73", "0.73")
    all_volume = PricingOptions(step_base=StepBase.ALL)
    assert price_session(tariff, session, all_volume).total_cost == cost("0.78", "0.78")
    text_221 = PricingOptions(time_step_rule=TimeStepRule.TIME_AND_PARKING_TOGETHER)
    assert price_session(tariff, session, text_221).total_cost == cost("0.78", "0.78")


def test_13_reservation_time_then_charging() -> None:
    start = local("2025-06-02 10:15")
    reservation = Reservation(start=start - timedelta(minutes=15), end=start)
    session = session_of(start, [Phase(60, 20_000)], reservation=reservation)
    result = price_session(spec_tariff("tariff_15_reservation_5_euro_per_hour.json"), session)
    assert result.total_cost == cost("6.75", "7.60")
    assert result.reservation_cost == cost("1.25", "1.50")
    assert result.total_reservation_time_h == Decimal("0.25")


def test_14_reservation_fee_and_time_besides_the_session_start_fee() -> None:
    start = local("2025-06-02 10:13")
    reservation = Reservation(start=start - timedelta(minutes=13), end=start)
    session = session_of(start, [Phase(60, 20_000)], reservation=reservation)
    result = price_session(spec_tariff("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json"), session)
    assert result.total_cost == cost("8.75", "10.00")
    assert result.reservation_cost == cost("3.25", "3.90")  # 2.00 fee + 15 minutes billed
    assert result.fixed_cost == cost("0.50", "0.60")


def test_15_reservation_with_an_expiry_fee() -> None:
    tariff = spec_tariff("tariff_17_reservation_with_expire_fee.json")
    start = local("2025-06-02 10:22")
    used = Reservation(start=start - timedelta(minutes=22), end=start)
    assert price_session(tariff, session_of(start, [Phase(60, 20_000)], reservation=used)).total_cost == cost(
        "6.50", "7.30"
    )
    expired = Reservation(start=start, end=start + timedelta(hours=1), expired=True)
    result = price_reservation(tariff, expired, tz=AMSTERDAM)
    assert result.total_cost == cost("6.00", "7.20")
    assert result.reservation_cost == result.total_cost


def test_16_expired_reservation_time_uses_the_expiry_element() -> None:
    tariff = spec_tariff("tariff_18_reservation_with_expire_time.json")
    start = local("2025-06-02 10:22")
    used = Reservation(start=start - timedelta(minutes=22), end=start)
    assert price_session(tariff, session_of(start, [Phase(60, 20_000)], reservation=used)).total_cost == cost(
        "7.00", "7.90"
    )
    expired = Reservation(start=start, end=start + timedelta(minutes=90), expired=True)
    assert price_reservation(tariff, expired, tz=AMSTERDAM).total_cost == cost("9.00", "10.80")


def test_17_max_power_from_reported_power_and_from_the_energy_slope() -> None:
    tariff = spec_tariff("tariffrestriction_example_max_power.json")
    phases = [
        Phase(10, 1_000, power_w=Decimal(6_000)),
        Phase(50, 40_000, power_w=Decimal(48_000)),
        Phase(Decimal("7.5"), 500, power_w=Decimal(4_000)),
    ]
    reported = price_session(tariff, session_of(local("2025-06-02 10:00"), phases))
    assert reported.total_cost.excl_vat == Decimal("20.30")
    unreported = [Phase(p.minutes, p.energy_wh) for p in phases]
    assert (
        price_session(tariff, session_of(local("2025-06-02 10:00"), unreported)).total_cost
        == reported.total_cost
    )


def test_18_max_duration_free_first_half_hour() -> None:
    tariff = spec_tariff("tariffrestriction_example_max_duration.json")
    session = session_of(local("2025-06-02 10:00"), [Phase(30, 5_000), Phase(10, 1_200)])
    assert price_session(tariff, session).total_cost.excl_vat == Decimal("0.30")

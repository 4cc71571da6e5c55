"""Edge cases of the tariff engine: DST, midnight wraps, days of the week, kWh and duration boundaries,
idle fees, step sizes, VAT, price bounds, power windows, running cost and input validation."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.billing.tariff_helpers import AMSTERDAM, Phase, local, session_of, spec_tariff
from voltbridge.billing.tariffs import (
    ChargingSession,
    Cost,
    DayOfWeekAnchor,
    PeriodKind,
    PricingOptions,
    Reservation,
    SessionSample,
    Tariff,
    TariffDimensionType,
    parse_tariff,
    price_cdr_periods,
    price_session,
    running_cost,
)
from voltbridge.core.errors import InvalidInput


def tariff(*elements: dict[str, Any], **extra: Any) -> Tariff:
    return parse_tariff({"id": "t", "currency": "EUR", "elements": list(elements), **extra})


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def component(kind: str, price: str, step: int = 1, vat: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


def cost(excl: str, incl: str | None = None) -> Cost:
    return Cost(excl_vat=Decimal(excl), incl_vat=Decimal(incl if incl is not None else excl))


def priced_hours(result: Any, element_index: int) -> Decimal:
    return sum(
        (c.volume for p in result.periods for c in p.components if c.element_index == element_index),
        Decimal(0),
    )


# --- Daylight saving time (Europe/Amsterdam) -------------------------------------------------------

HOUR_OF_TWO = tariff(
    element(component("TIME", "10"), start_time="02:00", end_time="03:00"), element(component("TIME", "1"))
)


def test_the_skipped_hour_on_spring_forward_day_is_never_priced() -> None:
    # 00:00 to 05:00 on 30 March 2025 is four real hours; 02:00-03:00 does not exist that night.
    session = session_of(local("2025-03-30 00:00"), [Phase(240, 4_000)])
    assert session.end.astimezone(AMSTERDAM).hour == 5
    result = price_session(HOUR_OF_TWO, session)
    assert result.total_cost == cost("4.00")
    assert result.total_time_h == Decimal(4)
    assert priced_hours(result, 0) == 0


def test_the_repeated_hour_on_fall_back_day_is_priced_twice() -> None:
    # 00:00 to 05:00 on 26 October 2025 is six real hours, and 02:00-03:00 happens twice.
    session = session_of(local("2025-10-26 00:00"), [Phase(360, 6_000)])
    assert session.end.astimezone(AMSTERDAM).hour == 5
    result = price_session(HOUR_OF_TWO, session)
    assert priced_hours(result, 0) == Decimal(2)
    assert result.total_cost == cost("24.00")


def test_a_night_window_covers_the_short_night_entirely() -> None:
    night = tariff(
        element(component("TIME", "1"), start_time="00:00", end_time="06:00"), element(component("TIME", "5"))
    )
    result = price_session(night, session_of(local("2025-03-30 00:00"), [Phase(300, 0)]))  # until 06:00 local
    assert result.total_cost == cost("5.00")


# --- Time of day, date and day of week ---------------------------------------------------------------


def test_a_night_element_wraps_past_midnight_and_splits_interpolated_energy() -> None:
    night = tariff(
        element(component("ENERGY", "0.20"), start_time="22:00", end_time="06:00"),
        element(component("ENERGY", "0.30")),
    )
    # 10 kWh at a steady 1 kW from 21:00 to 07:00, known only from two samples.
    result = price_session(night, session_of(local("2025-06-10 21:00"), [Phase(600, 10_000)]))
    assert result.total_cost == cost("2.20")
    starts = [p.start.astimezone(AMSTERDAM).strftime("%H:%M") for p in result.periods]
    assert starts == ["21:00", "22:00", "00:00", "06:00"]
    assert [p.energy_kwh for p in result.periods] == [1, 2, 6, 1]


def test_a_weekend_element_starts_at_local_midnight_on_saturday() -> None:
    weekend = tariff(
        element(component("ENERGY", "0.10"), day_of_week=["SATURDAY", "SUNDAY"]),
        element(component("ENERGY", "0.40")),
    )
    result = price_session(weekend, session_of(local("2025-06-13 23:00"), [Phase(120, 2_000)]))  # Fri 23:00
    assert result.total_cost == cost("0.50")


def test_start_and_end_dates_are_local_and_end_date_is_exclusive() -> None:
    promo = tariff(
        element(component("ENERGY", "0.10"), start_date="2025-06-14", end_date="2025-06-15"),
        element(component("ENERGY", "0.40")),
    )
    # Friday 23:00 to Sunday 01:00, 1 kWh per hour: 24 kWh fall on the promotion day.
    result = price_session(promo, session_of(local("2025-06-13 23:00"), [Phase(26 * 60, 26_000)]))
    assert result.total_cost == cost("3.20")  # 24 x 0.10 + 2 x 0.40


FRIDAY_NIGHT = tariff(
    element(component("ENERGY", "0.10"), start_time="22:00", end_time="06:00", day_of_week=["FRIDAY"]),
    element(component("ENERGY", "0.40")),
)


@pytest.mark.parametrize(
    ("start", "anchor", "expected"),
    [
        ("2025-06-14 01:00", DayOfWeekAnchor.INSTANT, "0.40"),  # Saturday: not a Friday instant
        ("2025-06-14 01:00", DayOfWeekAnchor.WINDOW_START, "0.10"),  # the window began on Friday
        ("2025-06-13 01:00", DayOfWeekAnchor.INSTANT, "0.10"),  # Friday before 06:00
        ("2025-06-13 01:00", DayOfWeekAnchor.WINDOW_START, "0.40"),  # Thursday's window
    ],
)
def test_day_of_week_on_a_wrapping_window_follows_the_anchor_option(
    start: str, anchor: DayOfWeekAnchor, expected: str
) -> None:
    """tandemdrive#64: a Friday 22:00-06:00 element at 01:00; default INSTANT, every restriction at once."""
    result = price_session(
        FRIDAY_NIGHT, session_of(local(start), [Phase(60, 1_000)]), PricingOptions(day_of_week_anchor=anchor)
    )
    assert result.total_cost == cost(expected)


# --- Energy and duration boundaries --------------------------------------------------------------------


def test_a_max_kwh_boundary_between_samples_is_found_by_interpolation() -> None:
    first_ten = tariff(
        element(component("ENERGY", "0.30"), component("TIME", "2.00"), max_kwh="10"),
        element(component("ENERGY", "0.20")),
    )
    start = local("2025-06-02 10:00")
    session = session_of(start, [Phase(60, 12_000), Phase(120, 18_000)])
    result = price_session(first_ten, session)
    # 10 kWh are reached 50 minutes in (12 kW); TIME is billed until then.
    assert result.periods[0].end == start.astimezone(UTC) + timedelta(minutes=50)
    assert result.periods[0].energy_kwh == 10
    assert result.time_cost == cost("1.67")
    assert result.energy_cost == cost("7.00")
    assert result.total_cost == cost("8.67")


def test_a_min_kwh_exactly_at_a_sample_is_inclusive() -> None:
    after_twelve = tariff(
        element(component("ENERGY", "1.00"), min_kwh="12"), element(component("ENERGY", "0"))
    )
    result = price_session(
        after_twelve, session_of(local("2025-06-02 10:00"), [Phase(60, 12_000), Phase(60, 3_000)])
    )
    assert result.total_cost == cost("3.00")


def test_an_idle_fee_after_a_grace_period_is_a_parking_element_with_min_duration() -> None:
    """Idle fee 12.00/h from 90 minutes after the session start: the first 30 minutes of parking are free."""
    idle = tariff(
        element(component("ENERGY", "0.30")),
        element(component("PARKING_TIME", "12.00", step=60), min_duration=5400),
    )
    session = session_of(local("2025-06-02 10:00"), [Phase(60, 10_000), Phase(60, charging=False)])
    result = price_session(idle, session)
    assert result.parking_cost == cost("6.00")
    assert result.total_cost == cost("9.00")
    assert result.total_parking_time_h == 1
    assert priced_hours(result, 1) == Decimal("0.5")


# --- step_size ---------------------------------------------------------------------------------------------


def test_energy_step_rounds_the_session_total_not_the_last_period() -> None:
    """CDR chapter: 4.3 kWh before 17:00 plus 1.1 kWh after, step 500 Wh: 1.2 kWh billed after 17:00."""
    evening = tariff(
        element(component("ENERGY", "0.20", step=500), end_time="17:00"),
        element(component("ENERGY", "0.27", step=500), start_time="17:00"),
    )
    result = price_session(
        evening, session_of(local("2025-06-02 16:00"), [Phase(60, 4_300), Phase(30, 1_100)])
    )
    assert result.periods[-1].components[0].billed_volume == Decimal("1.2")
    assert result.total_cost == cost("1.18")


def test_time_step_rounds_the_session_total_not_the_last_period() -> None:
    """CDR chapter: 6 minutes before 17:00 and 22 after, step 10 minutes: 24 minutes billed after 17:00."""
    evening = tariff(
        element(component("TIME", "5", step=600), end_time="17:00"),
        element(component("TIME", "7", step=600), start_time="17:00"),
    )
    result = price_session(evening, session_of(local("2025-06-02 16:54"), [Phase(28, 5_000)]))
    assert result.total_cost == cost("3.30")


def test_charging_time_is_not_rounded_when_parking_follows() -> None:
    """CDR chapter: 21 minutes charging and 16 parking, steps of 10 minutes: 21 + 20 minutes billed."""
    both = tariff(element(component("TIME", "1", step=600), component("PARKING_TIME", "2", step=600)))
    session = session_of(local("2025-06-02 10:00"), [Phase(21, 5_000), Phase(16, charging=False)])
    result = price_session(both, session)
    assert result.time_cost == cost("0.35")
    assert result.parking_cost == cost("0.67")


@pytest.mark.parametrize(("step", "expected"), [(0, "1.50"), (1, "1.50"), (60, "2.00")])
def test_time_step_sizes_zero_one_and_a_minute(step: int, expected: str) -> None:
    per_minute = tariff(element(component("TIME", "60", step=step)))
    session = session_of(local("2025-06-02 10:00"), [Phase(Decimal("1.5"), 100)])
    assert price_session(per_minute, session).total_cost == cost(expected)


@pytest.mark.parametrize(("step", "expected"), [(0, "1.0005"), (1, "1.0010")])
def test_an_energy_step_of_one_wh_rounds_a_fractional_reading_up(step: int, expected: str) -> None:
    per_kwh = tariff(element(component("ENERGY", "1.00", step=step)))
    session = session_of(local("2025-06-02 10:00"), [Phase(60, Decimal("1000.5"))])
    assert price_session(per_kwh, session, PricingOptions(decimal_places=4)).total_cost == cost(expected)


# --- VAT, rounding and price bounds ---------------------------------------------------------------------------


def test_absent_vat_and_zero_vat_both_price_incl_as_excl() -> None:
    for vat in (None, "0"):
        result = price_session(
            tariff(element(component("ENERGY", "0.25", vat=vat))),
            session_of(local("2025-06-02 10:00"), [Phase(60, 10_000)]),
        )
        assert result.total_cost == cost("2.50")


def test_rounding_mode_is_an_option() -> None:
    half = tariff(element(component("ENERGY", "0.25")))
    session = session_of(local("2025-06-02 10:00"), [Phase(60, 500)])
    assert price_session(half, session).total_cost == cost("0.13")
    even = PricingOptions(rounding=decimal.ROUND_HALF_EVEN)
    assert price_session(half, session, even).total_cost == cost("0.12")


@pytest.mark.parametrize(
    ("energy_wh", "expected", "applied"),
    [
        (4_500, cost("1.13", "1.35"), False),
        (4_200, cost("1.05", "1.30"), True),  # only incl. VAT is below its floor
        (3_000, cost("1.00", "1.30"), True),
    ],
)
def test_min_price_floors_excl_and_incl_vat_each_on_its_own(
    energy_wh: int, expected: Cost, applied: bool
) -> None:
    floored = tariff(
        element(component("ENERGY", "0.25", vat="20")), min_price={"excl_vat": "1.00", "incl_vat": "1.30"}
    )
    result = price_session(floored, session_of(local("2025-06-02 10:00"), [Phase(60, energy_wh)]))
    assert result.total_cost == expected
    assert result.min_price_applied is applied


def test_a_bound_without_incl_vat_moves_incl_by_the_sessions_vat_ratio() -> None:
    floored = tariff(element(component("ENERGY", "0.25", vat="20")), min_price={"excl_vat": "1.00"})
    low = price_session(floored, session_of(local("2025-06-02 10:00"), [Phase(60, 2_000)]))
    assert low.total_cost == cost("1.00", "1.20")
    free = tariff(element(component("ENERGY", "0", vat="20")), min_price={"excl_vat": "1.00"})
    assert price_session(free, session_of(local("2025-06-02 10:00"), [Phase(60, 2_000)])).total_cost == cost(
        "1.00"
    )
    capped = tariff(element(component("ENERGY", "0.25", vat="20")), max_price={"excl_vat": "2.00"})
    high = price_session(capped, session_of(local("2025-06-02 10:00"), [Phase(60, 10_000)]))
    assert high.total_cost == cost("2.00", "2.40")
    assert high.max_price_applied
    assert high.energy_cost == cost("2.50", "3.00")  # buckets keep what was consumed


# --- Power and current ---------------------------------------------------------------------------------------


def test_a_power_window_entered_and_left_several_times() -> None:
    fast = tariff(element(component("ENERGY", "0.50"), min_power="22"), element(component("ENERGY", "0.30")))
    phases = [
        Phase(10, 2_000, power_w=Decimal(11_000)),
        Phase(10, 8_000, power_w=Decimal(48_000)),
        Phase(10, 2_000, power_w=Decimal(11_000)),
        Phase(10, 8_000, power_w=Decimal(22_000)),  # exactly at min_power: inclusive
    ]
    result = price_session(fast, session_of(local("2025-06-02 10:00"), phases))
    assert result.total_cost == cost("9.20")
    assert [p.components[0].element_index for p in result.periods] == [1, 0, 1, 0]


def test_unknown_current_skips_current_elements_and_warns() -> None:
    session = session_of(local("2025-06-02 10:00"), [Phase(60, 10_000)])
    result = price_session(spec_tariff("tariff_4_complex.json"), session)
    assert result.total_cost == cost("2.50", "2.88")  # the start fee only
    assert result.warnings == ("current_unknown",)


# --- Sessions: running cost, reservations, odd sample sets ------------------------------------------------------


def test_running_cost_is_the_price_of_the_session_so_far() -> None:
    tariff_13 = spec_tariff("tariff_13_simple_3hour_5parking.json")
    start = local("2025-06-02 10:00").astimezone(UTC)
    samples = [
        SessionSample(at=start, energy_wh=0),
        SessionSample(at=start + timedelta(minutes=30), energy_wh=5_000),
        SessionSample(at=start + timedelta(minutes=60), energy_wh=9_000, charging=False),
    ]
    halfway = running_cost(tariff_13, samples[:2], start + timedelta(minutes=45), AMSTERDAM)
    assert halfway.total_cost == cost("2.25", "2.48")  # 45 minutes charging at 3.00/h
    later = running_cost(tariff_13, samples, start + timedelta(minutes=72), AMSTERDAM)
    final = price_session(
        tariff_13,
        ChargingSession(start=start, end=start + timedelta(minutes=72), samples=samples, tz=AMSTERDAM),
    )
    assert later == final
    assert final.parking_cost == cost("1.25", "1.50")  # 12 minutes parked, billed 15


def test_a_zero_length_session_still_pays_its_start_fee() -> None:
    at = local("2025-06-02 10:00")
    session = ChargingSession(start=at, end=at, samples=[SessionSample(at=at, energy_wh=7)], tz=AMSTERDAM)
    result = price_session(spec_tariff("tariff_9_025kwh_start.json"), session)
    assert result.total_cost == cost("0.50", "0.60")
    assert len(result.periods) == 1


def test_samples_with_the_same_timestamp_keep_the_last() -> None:
    start = local("2025-06-02 10:00").astimezone(UTC)
    half = start + timedelta(minutes=30)
    samples = [
        SessionSample(at=start, energy_wh=0),
        SessionSample(at=half, energy_wh=5_000),
        SessionSample(at=half, energy_wh=6_000, charging=False),
        SessionSample(at=start + timedelta(minutes=60), energy_wh=6_000, charging=False),
    ]
    session = ChargingSession(start=start, end=start + timedelta(minutes=60), samples=samples, tz=AMSTERDAM)
    result = price_session(spec_tariff("tariff_10_025kwh_parking_start.json"), session)
    assert result.total_energy_kwh == 6
    assert [p.kind for p in result.periods] == [PeriodKind.CHARGING, PeriodKind.PARKING]


def test_priced_periods_name_the_element_and_component_used() -> None:
    result = price_session(
        spec_tariff("tariff_10_025kwh_parking_start.json"),
        session_of(local("2025-06-02 10:00"), [Phase(60, 20_000), Phase(40, charging=False)]),
    )
    first, second = result.periods
    assert [(c.dimension, c.element_index, c.component_index) for c in first.components] == [
        (TariffDimensionType.FLAT, 0, 0),
        (TariffDimensionType.ENERGY, 0, 1),
    ]
    assert second.components[0].dimension is TariffDimensionType.PARKING_TIME
    assert second.components[0].billed_volume == Decimal("0.75")
    assert second.cost == cost("1.50", "1.80")


def test_a_cdr_of_only_reservation_time_is_priced_as_an_expired_reservation() -> None:
    cdr = {
        "start_date_time": "2025-06-02T10:00:00Z",
        "end_date_time": "2025-06-02T11:00:00Z",
        "charging_periods": [
            {
                "start_date_time": "2025-06-02T10:00:00Z",
                "dimensions": [{"type": "RESERVATION_TIME", "volume": 1}],
            }
        ],
    }
    expiring = spec_tariff("tariff_17_reservation_with_expire_fee.json")
    assert price_cdr_periods(expiring, cdr, tz=AMSTERDAM).total_cost == cost("6.00", "7.20")
    kept = price_cdr_periods(expiring, cdr, tz=AMSTERDAM, reservation_expired=False)
    assert kept.total_cost == cost("2.00", "2.40")


# --- Input validation --------------------------------------------------------------------------------------------

AT = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SessionSample(at=datetime(2025, 6, 2, 10, 0), energy_wh=0), "has no time zone"),
        (lambda: SessionSample(at=AT, energy_wh=0, power_w=Decimal(-1)), "power_w -1"),
        (lambda: ChargingSession(start=AT, end=AT, samples=[], tz=AMSTERDAM), "at least one sample"),
        (
            lambda: ChargingSession(
                start=AT,
                end=AT + timedelta(hours=1),
                samples=[
                    SessionSample(at=AT, energy_wh=10),
                    SessionSample(at=AT + timedelta(minutes=5), energy_wh=9),
                ],
                tz=AMSTERDAM,
            ),
            "energy went down from 10 Wh to 9 Wh",
        ),
        (
            lambda: ChargingSession(
                start=AT,
                end=AT + timedelta(hours=1),
                samples=[SessionSample(at=AT - timedelta(seconds=1), energy_wh=0)],
                tz=AMSTERDAM,
            ),
            "outside the session",
        ),
        (
            lambda: ChargingSession(
                start=AT,
                end=AT + timedelta(hours=1),
                samples=[
                    SessionSample(at=AT + timedelta(minutes=5), energy_wh=0),
                    SessionSample(at=AT, energy_wh=0),
                ],
                tz=AMSTERDAM,
            ),
            "not in time order",
        ),
        (lambda: ChargingSession(start=AT, end=AT - timedelta(seconds=1), samples=[], tz=AMSTERDAM), "ends"),
        (
            lambda: ChargingSession(
                start=AT,
                end=AT,
                samples=[SessionSample(at=AT, energy_wh=0)],
                tz=AMSTERDAM,
                reservation=Reservation(start=AT - timedelta(hours=1), end=AT + timedelta(minutes=1)),
            ),
            "after the session starts",
        ),
        (
            lambda: ChargingSession(
                start=AT,
                end=AT,
                samples=[SessionSample(at=AT, energy_wh=0)],
                tz=AMSTERDAM,
                reservation=Reservation(start=AT - timedelta(hours=1), end=AT, expired=True),
            ),
            "price_reservation",
        ),
        (
            lambda: running_cost(tariff(element(component("TIME", "1"))), [], AT, AMSTERDAM),
            "at least one sample",
        ),
        (lambda: PricingOptions(rounding="ROUND_SOMETIMES"), "rounding"),
        (lambda: PricingOptions(decimal_places=-1), "decimal_places"),
    ],
)
def test_bad_session_input_raises_invalid_input(build: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        build()
    assert message in str(caught.value)


def _cdr(periods: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "start_date_time": "2025-06-02T10:00:00Z",
        "end_date_time": "2025-06-02T12:00:00Z",
        "charging_periods": periods,
    }


@pytest.mark.parametrize(
    ("cdr", "message"),
    [
        (_cdr([]), "non-empty list"),
        (
            _cdr(
                [
                    {
                        "start_date_time": "2025-06-02T10:00:00Z",
                        "dimensions": [{"type": "ENERGIE", "volume": 1}],
                    }
                ]
            ),
            "'ENERGIE'",
        ),
        (
            _cdr(
                [
                    {
                        "start_date_time": "2025-06-02T10:00:00Z",
                        "dimensions": [{"type": "ENERGY", "volume": -1}],
                    }
                ]
            ),
            "is negative",
        ),
        (
            _cdr(
                [
                    {"start_date_time": "2025-06-02T11:00:00Z", "dimensions": []},
                    {"start_date_time": "2025-06-02T10:00:00Z", "dimensions": []},
                ]
            ),
            "starts before the period before it",
        ),
        (
            _cdr(
                [
                    {
                        "start_date_time": "2025-06-02T10:00:00Z",
                        "dimensions": [
                            {"type": "RESERVATION_TIME", "volume": 1},
                            {"type": "ENERGY", "volume": 1},
                        ],
                    }
                ]
            ),
            "mixes RESERVATION_TIME",
        ),
        ({"start_date_time": "soon"}, "cdr.start_date_time"),
    ],
)
def test_bad_cdrs_raise_invalid_input(cdr: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        price_cdr_periods(tariff(element(component("ENERGY", "1"))), cdr, tz=AMSTERDAM)
    assert message in str(caught.value)

"""Properties of the tariff engine over random tariffs and random sessions.

- Totals, buckets and period costs are never negative, and incl. VAT is never below excl. VAT.
- min_price and max_price hold on the total (excl. and incl. VAT).
- The running cost at the session's end is the final price.
- More samples on the same (piecewise linear) energy curve never change any total.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.billing.tariff_helpers import AMSTERDAM
from voltbridge.billing.tariffs import (
    ChargingSession,
    Cost,
    DayOfWeek,
    PricingResult,
    SessionSample,
    Tariff,
    TariffDimensionType,
    parse_tariff,
    price_session,
    running_cost,
)

_prices = st.decimals(min_value=0, max_value=5, places=2, allow_nan=False, allow_infinity=False)
_small = st.decimals(min_value=0, max_value=60, places=1, allow_nan=False, allow_infinity=False)
_times = st.sampled_from(["00:00", "01:30", "02:00", "03:00", "06:00", "09:00", "17:00", "22:00", "23:30"])


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        components = [
            {
                "type": draw(st.sampled_from([t.value for t in TariffDimensionType])),
                "price": draw(_prices),
                "vat": draw(st.sampled_from([None, Decimal(0), Decimal(6), Decimal(21)])),
                "step_size": draw(st.sampled_from([0, 1, 60, 300, 900, 500, 1000])),
            }
            for _ in range(draw(st.integers(1, 3)))
        ]
        for c in components:
            if c["vat"] is None:
                del c["vat"]
        restrictions = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "start_time": _times,
                    "end_time": _times,
                    "start_date": st.sampled_from(["2025-03-30", "2025-06-14"]),
                    "end_date": st.sampled_from(["2025-03-31", "2025-10-27"]),
                    "min_kwh": _small,
                    "max_kwh": _small,
                    "min_power": _small,
                    "max_power": _small,
                    "min_current": _small,
                    "max_current": _small,
                    "min_duration": st.integers(0, 14_400),
                    "max_duration": st.integers(0, 14_400),
                    "day_of_week": st.lists(
                        st.sampled_from([d.value for d in DayOfWeek]), min_size=1, max_size=4
                    ),
                },
            )
        )
        element: dict[str, Any] = {"price_components": components}
        if restrictions:
            element["restrictions"] = restrictions
        elements.append(element)
    data: dict[str, Any] = {"id": "prop", "currency": "EUR", "elements": elements}
    low = draw(st.none() | _prices)
    if low is not None:
        data["min_price"] = {"excl_vat": low}
        if draw(st.booleans()):
            data["min_price"]["incl_vat"] = low + draw(_prices)
    if draw(st.booleans()):
        floor = low if low is not None else Decimal(0)
        high = floor + draw(_prices) * 4
        data["max_price"] = {"excl_vat": high}
        if draw(st.booleans()):
            incl_floor = data.get("min_price", {}).get("incl_vat", high)
            data["max_price"]["incl_vat"] = max(high, incl_floor) + draw(_prices)
    return parse_tariff(data)


_interval = st.tuples(
    st.integers(1, 7_200),  # seconds
    st.integers(0, 15),  # Wh per second (up to 54 kW)
    st.booleans(),  # charging
    st.none() | st.integers(0, 60_000).map(Decimal),  # power_w
    st.none() | st.integers(0, 96).map(Decimal),  # current_a
)
_anchors = st.sampled_from(
    [
        datetime(2025, 3, 29, 22, 0, tzinfo=UTC),  # the night DST starts
        datetime(2025, 10, 25, 22, 0, tzinfo=UTC),  # the night DST ends
        datetime(2025, 6, 13, 14, 0, tzinfo=UTC),  # a Friday into the weekend
    ]
)


@st.composite
def sessions(
    draw: st.DrawFn,
) -> tuple[ChargingSession, list[tuple[int, int, bool, Decimal | None, Decimal | None]]]:
    start = draw(_anchors) + timedelta(seconds=draw(st.integers(0, 20 * 3600)))
    lead = timedelta(seconds=draw(st.sampled_from([0, 0, 90])))
    tail = timedelta(seconds=draw(st.sampled_from([0, 0, 600])))
    intervals = draw(st.lists(_interval, min_size=1, max_size=6))
    at, energy = start + lead, draw(st.integers(0, 1_000_000))
    samples = []
    for seconds, rate, charging, power, current in intervals:
        samples.append(
            SessionSample(at=at, energy_wh=energy, charging=charging, power_w=power, current_a=current)
        )
        at += timedelta(seconds=seconds)
        energy += rate * seconds
    samples.append(replace(samples[-1], at=at, energy_wh=energy))
    session = ChargingSession(start=start, end=at + tail, samples=samples, tz=AMSTERDAM)
    return session, intervals


def _costs(result: PricingResult) -> list[Cost]:
    buckets = [
        result.energy_cost,
        result.time_cost,
        result.parking_cost,
        result.fixed_cost,
        result.reservation_cost,
    ]
    return [result.total_cost, *buckets, *(p.cost for p in result.periods)]


def _totals(result: PricingResult) -> PricingResult:
    """The result without its periods, which more samples legitimately cut finer."""
    return replace(result, periods=())


@settings(max_examples=250, deadline=None)
@given(tariffs(), sessions())
def test_costs_are_never_negative_and_incl_vat_is_never_below_excl(tariff: Tariff, drawn: Any) -> None:
    session, _ = drawn
    result = price_session(tariff, session)
    for cost in _costs(result):
        assert cost.excl_vat >= 0
        assert cost.incl_vat >= cost.excl_vat


@settings(max_examples=250, deadline=None)
@given(tariffs(), sessions())
def test_min_and_max_price_hold_on_the_total(tariff: Tariff, drawn: Any) -> None:
    session, _ = drawn
    total = price_session(tariff, session).total_cost
    if tariff.min_price is not None:
        assert total.excl_vat >= tariff.min_price.excl_vat
        if tariff.min_price.incl_vat is not None:
            assert total.incl_vat >= tariff.min_price.incl_vat
    if tariff.max_price is not None:
        assert total.excl_vat <= tariff.max_price.excl_vat
        if tariff.max_price.incl_vat is not None:
            assert total.incl_vat <= tariff.max_price.incl_vat


@settings(max_examples=200, deadline=None)
@given(tariffs(), sessions())
def test_running_cost_at_the_end_is_the_final_price(tariff: Tariff, drawn: Any) -> None:
    session, _ = drawn
    final = price_session(tariff, session)
    running = running_cost(tariff, list(session.samples), session.end, session.tz, start=session.start)
    assert running == final


@settings(max_examples=250, deadline=None)
@given(tariffs(), sessions(), st.data())
def test_extra_samples_on_the_same_energy_curve_change_no_total(
    tariff: Tariff, drawn: Any, data: st.DataObject
) -> None:
    session, intervals = drawn
    samples = list(session.samples)
    denser: list[SessionSample] = []
    for (seconds, rate, _, _, _), sample in zip(intervals, samples, strict=False):
        denser.append(sample)
        if seconds > 1 and data.draw(st.booleans()):
            offset = data.draw(st.integers(1, seconds - 1))
            # Same state, and the energy the line through both neighbours has at that instant.
            denser.append(
                replace(
                    sample,
                    at=sample.at + timedelta(seconds=offset),
                    energy_wh=sample.energy_wh + rate * offset,
                )
            )
    denser.append(samples[-1])
    more = replace(session, samples=denser)
    assert _totals(price_session(tariff, more)) == _totals(price_session(tariff, session))

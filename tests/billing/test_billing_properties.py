"""Properties of the session pricing path: the running cost at the session's end equals the CDR total.

The running cost is what `SessionCosts.update` computes after each MeterValues: the readings so far,
up to the newest, without a meter stop. The CDR is what `CdrService` computes at the stop: every
reading plus the meter stop. When the charger's last reading is its stop reading, the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from voltbridge.billing.catalog import json_ready
from voltbridge.billing.pricing import price_curve, rated_tariff
from voltbridge.billing.readings import MeterInput, Reading, build_curve
from voltbridge.billing.tariffs import PricingOptions, parse_tariff

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
START = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
OPTIONS = PricingOptions()

TARIFF = parse_tariff(
    json_ready(
        {
            "id": "tod-idle",
            "currency": "EUR",
            "min_price": {"excl_vat": 0.50, "incl_vat": 0.61},
            "elements": [
                {
                    "price_components": [{"type": "ENERGY", "price": 0.40, "vat": 21, "step_size": 100}],
                    "restrictions": {"start_time": "17:00", "end_time": "21:00"},
                },
                {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21, "step_size": 1}]},
                {
                    "price_components": [
                        {"type": "TIME", "price": 0.60, "vat": 21, "step_size": 60},
                        {"type": "PARKING_TIME", "price": 6.00, "vat": 21, "step_size": 300},
                    ]
                },
                {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 21, "step_size": 0}]},
            ],
        }
    )
)

steps = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=45),  # minutes since the previous reading
        st.integers(min_value=-3_000, max_value=6_000),  # register change (negative: a dip or reset)
    ),
    min_size=1,
    max_size=12,
)


def _readings(meter_start: int, changes: list[tuple[int, int]]) -> list[Reading]:
    found: list[Reading] = []
    at, register = START, meter_start
    for minutes, delta in changes:
        at += timedelta(minutes=minutes)
        register = max(register + delta, 0)
        found.append(Reading(at, register))
    return found


def _running(
    readings: list[Reading], meter_start: int, idle_after_s: int, rate_idle: bool
) -> tuple[object, ...]:
    newest = readings[-1].at
    data = MeterInput(
        start=START,
        end=newest,
        meter_start_wh=meter_start,
        meter_stop_wh=None,
        readings=readings,
        idle_after_s=idle_after_s,
    )
    result = price_curve(
        rated_tariff(TARIFF, rate_idle=rate_idle),
        build_curve(data),
        start=START,
        end=newest,
        tz=AMSTERDAM,
        options=OPTIONS,
    )
    return result.total_cost.excl_vat, result.total_cost.incl_vat


def _cdr(readings: list[Reading], meter_start: int, idle_after_s: int, rate_idle: bool) -> tuple[object, ...]:
    stop = readings[-1]
    data = MeterInput(
        start=START,
        end=stop.at,
        meter_start_wh=meter_start,
        meter_stop_wh=stop.register_wh,
        readings=readings,
        idle_after_s=idle_after_s,
    )
    result = price_curve(
        rated_tariff(TARIFF, rate_idle=rate_idle),
        build_curve(data),
        start=START,
        end=stop.at,
        tz=AMSTERDAM,
        options=OPTIONS,
    )
    return result.total_cost.excl_vat, result.total_cost.incl_vat


@settings(max_examples=150, deadline=None)
@given(
    meter_start=st.integers(min_value=0, max_value=1_000_000),
    changes=steps,
    idle_after_s=st.sampled_from([0, 300, 900]),
    rate_idle=st.booleans(),
)
def test_the_running_cost_at_the_end_equals_the_cdr_total(
    meter_start: int, changes: list[tuple[int, int]], idle_after_s: int, rate_idle: bool
) -> None:
    readings = _readings(meter_start, changes)
    assert _running(readings, meter_start, idle_after_s, rate_idle) == _cdr(
        readings, meter_start, idle_after_s, rate_idle
    )


@settings(max_examples=150, deadline=None)
@given(
    meter_start=st.integers(min_value=0, max_value=1_000_000),
    changes=steps,
    idle_after_s=st.sampled_from([0, 600]),
)
def test_a_cleaned_curve_never_goes_down_and_its_energy_is_its_last_sample(
    meter_start: int, changes: list[tuple[int, int]], idle_after_s: int
) -> None:
    readings = _readings(meter_start, changes)
    curve = build_curve(
        MeterInput(
            start=START,
            end=readings[-1].at,
            meter_start_wh=meter_start,
            meter_stop_wh=readings[-1].register_wh,
            readings=readings,
            idle_after_s=idle_after_s,
        )
    )
    energies = [s.energy_wh for s in curve.samples]
    assert energies == sorted(energies) and energies[0] == 0
    assert curve.energy_wh == energies[-1] >= 0
    # Everything the register rose by, and nothing else, is the session's energy.
    assert curve.energy_wh == sum(step.delta_wh for step in curve.steps)

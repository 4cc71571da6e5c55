"""From meter readings to a priceable curve: drop-outs, resets, idle stretches, statuses, corrections."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from voltbridge.billing.readings import Instant, MeterInput, Reading, StatusPoint, build_curve, rescale

T0 = datetime(2025, 1, 15, 15, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def readings(*pairs: tuple[float, int]) -> list[Reading]:
    return [Reading(at(m), wh) for m, wh in pairs]


def test_energy_is_the_rise_of_the_register_from_meter_start_to_meter_stop() -> None:
    curve = build_curve(
        MeterInput(
            start=at(0),
            end=at(60),
            meter_start_wh=10_000,
            meter_stop_wh=19_000,
            readings=readings((30, 13_500)),
        )
    )
    assert curve.energy_wh == 9_000
    assert [(s.at, s.energy_wh) for s in curve.samples] == [(at(0), 0), (at(30), 3_500), (at(60), 9_000)]
    assert not curve.resets and not curve.dropouts and curve.outside == 0


def test_a_register_that_dips_and_comes_back_is_a_dropout_and_the_dip_is_ignored() -> None:
    curve = build_curve(
        MeterInput(
            start=at(0),
            end=at(30),
            meter_start_wh=5_000,
            meter_stop_wh=5_030,
            readings=readings((10, 5_010), (20, 0), (25, 5_020)),
        )
    )
    assert curve.energy_wh == 30
    assert [d.after_wh for d in curve.dropouts] == [0] and not curve.resets
    assert all(s.energy_wh != -5_010 for s in curve.samples)


def test_a_register_that_falls_and_stays_down_is_a_reset_and_counting_continues_from_it() -> None:
    curve = build_curve(
        MeterInput(
            start=at(0),
            end=at(40),
            meter_start_wh=10_000,
            meter_stop_wh=800,
            readings=readings((10, 12_000), (20, 300)),
        )
    )
    assert [(r.before_wh, r.after_wh) for r in curve.resets] == [(12_000, 300)]
    assert curve.energy_wh == 2_000 + 500
    energies = [s.energy_wh for s in curve.samples]
    assert energies == sorted(energies)


def test_a_still_stretch_shorter_than_the_idle_threshold_is_still_charging() -> None:
    data = MeterInput(
        start=at(0),
        end=at(60),
        meter_start_wh=0,
        meter_stop_wh=3_000,
        readings=readings((10, 1_000), (15, 1_000), (30, 2_000), (40, 3_000), (50, 3_000)),
        idle_after_s=600,
    )
    flags = {s.at: s.charging for s in build_curve(data).samples}
    assert flags[at(10)] is True  # five still minutes: a pause, not idle
    assert flags[at(40)] is False  # twenty still minutes to the stop: idle
    assert build_curve(replace(data, idle_after_s=0)).samples[1].charging is False


def test_an_idle_status_during_the_session_makes_a_stretch_idle_and_one_before_it_does_not() -> None:
    curve = build_curve(
        MeterInput(
            start=at(0),
            end=at(60),
            meter_start_wh=0,
            meter_stop_wh=6_000,
            readings=readings((30, 3_000)),
            statuses=[StatusPoint(at(-1), "SuspendedEV"), StatusPoint(at(45), "SuspendedEV")],
        )
    )
    by_time = {s.at: s for s in curve.samples}
    assert by_time[at(0)].charging and by_time[at(30)].charging
    assert by_time[at(45)].charging is False
    assert by_time[at(45)].energy_wh == 4_500


def test_power_and_current_are_held_from_the_instant_they_were_measured() -> None:
    curve = build_curve(
        MeterInput(
            start=at(0),
            end=at(20),
            meter_start_wh=0,
            meter_stop_wh=2_000,
            readings=readings((10, 1_000)),
            instants=[Instant(at(10), power_w=Decimal(6000), current_a=Decimal(27))],
        )
    )
    first, second = curve.samples[0], curve.samples[1]
    assert first.power_w is None and second.power_w == Decimal(6000) and second.current_a == Decimal(27)


def test_readings_outside_the_session_are_counted_and_ignored() -> None:
    curve = build_curve(
        MeterInput(
            start=at(0),
            end=at(10),
            meter_start_wh=0,
            meter_stop_wh=100,
            readings=readings((-5, 0), (5, 50), (15, 200)),
        )
    )
    assert curve.outside == 2 and curve.energy_wh == 100


def test_a_corrected_energy_keeps_when_the_energy_flowed() -> None:
    curve = build_curve(
        MeterInput(
            start=at(0), end=at(60), meter_start_wh=0, meter_stop_wh=4_000, readings=readings((30, 1_000))
        )
    )
    corrected = rescale(curve, 2_000, start=at(0), end=at(60))
    assert [s.energy_wh for s in corrected.samples] == [0, 500, 2_000]
    empty = build_curve(MeterInput(start=at(0), end=at(60), meter_start_wh=0, meter_stop_wh=0))
    spread = rescale(empty, 900, start=at(0), end=at(60))
    assert [(s.at, s.energy_wh) for s in spread.samples] == [(at(0), 0), (at(60), 900)]
    with pytest.raises(ValueError):
        rescale(curve, -1, start=at(0), end=at(60))

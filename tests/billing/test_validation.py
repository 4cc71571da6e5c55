"""Validation of a session's metering: each finding, and which ones hold the session for review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from voltbridge.billing.readings import MeterInput, Reading, build_curve
from voltbridge.billing.validation import (
    DEFAULT_HOLD,
    Flag,
    RatingRules,
    Reason,
    SessionFacts,
    held,
    validate,
)

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def facts(
    *,
    start_wh: int | None = 1_000,
    stop_wh: int | None = 5_000,
    minutes: float = 60,
    registers: tuple[tuple[float, int], ...] = (),
    tx_flags: tuple[str, ...] = (),
    overlapping: tuple[int, ...] = (),
) -> SessionFacts:
    stop = T0 + timedelta(minutes=minutes)
    curve = build_curve(
        MeterInput(
            start=T0,
            end=stop,
            meter_start_wh=start_wh,
            meter_stop_wh=stop_wh,
            readings=[Reading(T0 + timedelta(minutes=m), wh) for m, wh in registers],
        )
    )
    return SessionFacts(
        started_at=T0,
        stopped_at=stop,
        meter_start_wh=start_wh,
        meter_stop_wh=stop_wh,
        transaction_flags=tx_flags,
        curve=curve,
        overlapping=overlapping,
    )


def flags(reasons: list[Reason]) -> list[str]:
    return [r.flag.value for r in reasons]


def test_a_clean_session_has_no_findings() -> None:
    assert validate(facts(registers=((30, 3_000),)), RatingRules(energy_step_delta_wh=5_000)) == []


def test_missing_registers_and_a_missing_stop_are_found() -> None:
    found = validate(facts(start_wh=None, tx_flags=("stop_missing",)), RatingRules())
    assert flags(found) == ["missing_meter_start", "missing_meter_stop"]


def test_a_reset_with_negative_energy_is_found_with_both_reasons() -> None:
    found = validate(facts(start_wh=10_000, stop_wh=800, registers=((10, 12_000), (20, 300))), RatingRules())
    assert flags(found) == ["negative_energy", "register_reset"]
    assert "12000 Wh to 300 Wh" in found[1].detail


def test_a_jump_beyond_the_energy_step_delta_is_implausible() -> None:
    found = validate(
        facts(stop_wh=13_000, registers=((10, 2_000), (11, 12_000))), RatingRules(energy_step_delta_wh=5_000)
    )
    assert flags(found) == ["implausible_delta"]
    assert "10000 Wh" in found[0].detail
    assert validate(facts(stop_wh=13_000, registers=((10, 2_000), (11, 12_000))), RatingRules()) == []


def test_overlaps_and_too_short_sessions_are_found() -> None:
    found = validate(facts(minutes=1, overlapping=(7, 9)), RatingRules(min_duration_s=120))
    assert flags(found) == ["overlapping_session", "too_short_to_rate"]
    assert "7, 9" in found[0].detail
    assert flags(validate(facts(stop_wh=1_050), RatingRules(min_energy_wh=100))) == ["too_short_to_rate"]


def test_dropouts_are_noted_but_do_not_hold_the_session() -> None:
    found = validate(facts(registers=((10, 2_000), (20, 0), (30, 3_000))), RatingRules())
    assert flags(found) == ["register_dropout"]
    assert held(found, DEFAULT_HOLD) == []
    assert Flag.REGISTER_RESET in DEFAULT_HOLD and Flag.NO_TARIFF not in DEFAULT_HOLD

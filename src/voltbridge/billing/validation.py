"""Validation of a finished session's metering before it is billed.

Every session is checked; what is found becomes a flag with a reason a reviewer can read. The
flags in `BillingOptions.hold` (by default every flag below except the notes) hold the session for
review instead of issuing its CDR; the notes are only recorded on the CDR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from voltbridge.billing.readings import Curve


class Flag(StrEnum):
    """Why a session's metering cannot be billed blindly; the values are stable codes."""

    MISSING_METER_START = "missing_meter_start"  # no start register (a stop we never saw start)
    MISSING_METER_STOP = "missing_meter_stop"  # the stop never came; the session was closed for it
    NEGATIVE_ENERGY = "negative_energy"  # meter stop below meter start
    REGISTER_RESET = "register_reset"  # the register went down and stayed down
    IMPLAUSIBLE_DELTA = "implausible_delta"  # a step between readings above the operator's energy step delta
    OVERLAPPING_SESSION = "overlapping_session"  # another session on the connector at the same time
    TOO_SHORT_TO_RATE = "too_short_to_rate"  # below the operator's minimum duration or energy
    UNPRICEABLE = "unpriceable"  # the tariff engine refused the session's data
    # Notes: recorded on the CDR, never a reason to hold.
    REGISTER_DROPOUT = "register_dropout"  # the register dipped and came back; the dip was ignored
    READINGS_OUTSIDE_SESSION = "readings_outside_session"  # readings before the start or after the stop
    NO_TARIFF = "no_tariff"  # no tariff applied at the session's start: not priced


NOTES = frozenset({Flag.REGISTER_DROPOUT, Flag.READINGS_OUTSIDE_SESSION, Flag.NO_TARIFF})
DEFAULT_HOLD = frozenset(set(Flag) - NOTES)


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding: its flag and a sentence saying what was seen."""

    flag: Flag
    detail: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form kept with reviews."""
        return {"code": self.flag.value, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class RatingRules:
    """The operator's session rating settings that validation applies (zeros: no minimum)."""

    min_duration_s: int = 0
    min_energy_wh: int = 0
    energy_step_delta_wh: int | None = None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What validation looks at: the transaction as recorded and its cleaned curve."""

    started_at: datetime | None
    stopped_at: datetime | None
    meter_start_wh: int | None
    meter_stop_wh: int | None
    transaction_flags: Sequence[str]
    curve: Curve | None
    overlapping: Sequence[int] = ()


def validate(facts: SessionFacts, rules: RatingRules) -> list[Reason]:
    """Every finding about the session, in a fixed order."""
    reasons: list[Reason] = []
    if facts.meter_start_wh is None or facts.started_at is None:
        reasons.append(Reason(Flag.MISSING_METER_START, "the session has no start register or start time"))
    if facts.meter_stop_wh is None or facts.stopped_at is None or "stop_missing" in facts.transaction_flags:
        reasons.append(
            Reason(
                Flag.MISSING_METER_STOP,
                "no StopTransaction arrived; the session was closed at its last reading",
            )
        )
    if (
        facts.meter_start_wh is not None
        and facts.meter_stop_wh is not None
        and facts.meter_stop_wh < facts.meter_start_wh
    ):
        reasons.append(
            Reason(
                Flag.NEGATIVE_ENERGY,
                f"meter stop {facts.meter_stop_wh} Wh is below meter start {facts.meter_start_wh} Wh",
            )
        )
    curve = facts.curve
    if curve is not None:
        for reset in curve.resets:
            reasons.append(
                Reason(
                    Flag.REGISTER_RESET,
                    f"the register fell from {reset.before_wh} Wh to {reset.after_wh} Wh at "
                    f"{reset.at.isoformat()} and did not come back",
                )
            )
        limit = rules.energy_step_delta_wh
        if limit is not None:
            for step in curve.steps:
                if step.delta_wh > limit:
                    reasons.append(
                        Reason(
                            Flag.IMPLAUSIBLE_DELTA,
                            f"the register rose {step.delta_wh} Wh in {step.seconds:g} s up to "
                            f"{step.at.isoformat()}, more than the energy step delta of {limit} Wh",
                        )
                    )
        for drop in curve.dropouts:
            reasons.append(
                Reason(
                    Flag.REGISTER_DROPOUT,
                    f"the register read {drop.after_wh} Wh at {drop.at.isoformat()} after "
                    f"{drop.before_wh} Wh and came back; the reading was ignored",
                )
            )
        if curve.outside:
            reasons.append(
                Reason(
                    Flag.READINGS_OUTSIDE_SESSION,
                    f"{curve.outside} register reading(s) outside the session's start and stop were ignored",
                )
            )
    if facts.overlapping:
        others = ", ".join(str(i) for i in facts.overlapping)
        reasons.append(
            Reason(Flag.OVERLAPPING_SESSION, f"the connector also ran session(s) {others} at the same time")
        )
    short = _too_short(facts, rules)
    if short is not None:
        reasons.append(Reason(Flag.TOO_SHORT_TO_RATE, short))
    return reasons


def _too_short(facts: SessionFacts, rules: RatingRules) -> str | None:
    if facts.started_at is not None and facts.stopped_at is not None and rules.min_duration_s:
        seconds = (facts.stopped_at - facts.started_at).total_seconds()
        if seconds < rules.min_duration_s:
            return f"the session lasted {seconds:g} s, less than the minimum of {rules.min_duration_s} s"
    if facts.curve is not None and rules.min_energy_wh and facts.curve.energy_wh < rules.min_energy_wh:
        return f"the session delivered {facts.curve.energy_wh} Wh, less than the minimum of {rules.min_energy_wh} Wh"
    return None


def held(reasons: Sequence[Reason], hold: frozenset[Flag]) -> list[Reason]:
    """The reasons that hold the session for review."""
    return [r for r in reasons if r.flag in hold]

"""The choices where OCPI texts, test vectors and implementations disagree, as one typed settings object.

Every default is the reading we bill by; the other values exist so a partner's number can be
reproduced and compared. docs/tariffs.md explains each with the example that separates the readings.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from enum import StrEnum

from voltbridge.core.errors import InvalidInput

_ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_UP,
        decimal.ROUND_DOWN,
        decimal.ROUND_CEILING,
        decimal.ROUND_FLOOR,
        decimal.ROUND_05UP,
    }
)


class TimeStepRule(StrEnum):
    """How step_size rounds charging time (TIME) and parking time (PARKING_TIME) of one session."""

    PARKING_ELSE_TIME = "parking_else_time"
    """The CDR chapter of 2.2.1, OCPI 2.3.0 and the shared vectors: when parking time is billed, only the
    total parking time is rounded up; otherwise the total charging time is. Step example #1: 0.55."""

    TIME_AND_PARKING_TOGETHER = "time_and_parking_together"
    """The step-size example of the 2.2.1 Tariff chapter: charging plus parking time is rounded up as one
    total, and the extra time is billed in the last time-based period. Step example #1: 0.383."""


class StepBase(StrEnum):
    """Which volume step_size rounds up when part of a dimension's volume is not priced by any component."""

    PRICED = "priced"
    """Only volume in periods where a component of the dimension applies (release-2.3.0-bugfixes,
    ocpi/ocpi#546). Step example 12c: 0.73."""

    ALL = "all"
    """All volume of the dimension in the session, free periods included (tandemdrive, and the 2.2.1
    text's number). Step example 12c: 0.78."""


class DayOfWeekAnchor(StrEnum):
    """Which day `day_of_week` (and only it) looks at in the after-midnight part of a window that wraps."""

    INSTANT = "instant"
    """The day of the instant being priced: every restriction is a plain condition on that instant."""

    WINDOW_START = "window_start"
    """The day the window began: Friday 22:00-06:00 also covers Saturday 02:00 (tandemdrive#64)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PricingOptions:
    """How to price where the specification leaves room, and how to round money.

    Money is computed exactly and rounded once per reported amount, to `decimal_places` with the
    `decimal` rounding mode `rounding` (ROUND_HALF_UP unless told otherwise).
    """

    decimal_places: int = 2
    rounding: str = decimal.ROUND_HALF_UP
    time_step_rule: TimeStepRule = TimeStepRule.PARKING_ELSE_TIME
    step_base: StepBase = StepBase.PRICED
    apply_min_price: bool = True
    apply_max_price: bool = True
    day_of_week_anchor: DayOfWeekAnchor = DayOfWeekAnchor.INSTANT

    def __post_init__(self) -> None:
        if not 0 <= self.decimal_places <= 12:
            raise InvalidInput(f"decimal_places {self.decimal_places} is outside 0..12")
        if self.rounding not in _ROUNDING_MODES:
            raise InvalidInput(f"rounding {self.rounding!r} is not a decimal rounding mode")

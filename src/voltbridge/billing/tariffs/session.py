"""A session described by meter samples, and how it is cut into segments.

The model of a session between its samples:
- Energy is linear between two samples (the register is interpolated), constant before the first
  sample and after the last one. The first sample is the zero of session energy, so give the meter
  start as a sample at `start`.
- `charging`, `power_w` and `current_a` of a sample hold until the next sample (sample and hold).
  When a sample has no power, the power between it and the next sample is the slope of the energy.
- Samples with the same timestamp: the last one counts.

The session is cut at every sample, at every wall-clock boundary of a clock restriction (in the
session's time zone, DST included), where the elapsed time crosses a min/max_duration, and where the
interpolated energy crosses a min/max_kwh. Inside a segment no restriction can change value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from voltbridge.billing.tariffs.localtime import clock_cuts
from voltbridge.billing.tariffs.models import Tariff, TariffElement
from voltbridge.billing.tariffs.restrictions import duration_marks, energy_marks_wh, needs_clock, times_of_day
from voltbridge.billing.tariffs.result import PeriodKind
from voltbridge.billing.tariffs.timeline import Segment, to_instant
from voltbridge.core.errors import InvalidInput


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSample:
    """What the meter said at one instant.

    `energy_wh` is the energy register (or the session's cumulative energy; only differences count),
    `power_w` the active power and `current_a` the current summed over phases, when reported.
    `charging` is whether energy was offered to the EV from this sample on (False: connected, idle).
    """

    at: datetime
    energy_wh: int | Decimal
    power_w: Decimal | None = None
    current_a: Decimal | None = None
    charging: bool = True

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidInput(f"sample time {self.at.isoformat()} has no time zone")
        if isinstance(self.energy_wh, bool) or not isinstance(self.energy_wh, int | Decimal):
            raise InvalidInput(f"sample energy {self.energy_wh!r} is not an int or Decimal")
        if isinstance(self.energy_wh, Decimal) and not self.energy_wh.is_finite():
            raise InvalidInput(f"sample energy {self.energy_wh} is not finite")
        for name in ("power_w", "current_a"):
            value = getattr(self, name)
            if value is not None and (not value.is_finite() or value < 0):
                raise InvalidInput(
                    f"sample {name} {value} at {self.at.isoformat()} is negative or not finite"
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """A reservation of the EVSE, priced by the Tariff's reservation elements.

    `expired` means the driver did not start charging before the reservation ran out; the elements
    with RESERVATION_EXPIRES then take precedence over those with RESERVATION.
    """

    start: datetime
    end: datetime
    expired: bool = False

    def __post_init__(self) -> None:
        _check_span(self.start, self.end, "reservation")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingSession:
    """A charging session from `start` to `end`, its samples, and the Location's time zone.

    `tz` is the Location's time zone (IANA, e.g. ZoneInfo("Europe/Amsterdam")); restrictions on time of
    day, date and day of week are read on its wall clock. A `reservation` that preceded the session is
    priced with it; it must end before the session starts and must not have expired.
    """

    start: datetime
    end: datetime
    samples: Sequence[SessionSample]
    tz: tzinfo
    reservation: Reservation | None = None

    def __post_init__(self) -> None:
        _check_span(self.start, self.end, "session")
        samples = tuple(self.samples)
        if not samples:
            raise InvalidInput("a session needs at least one sample (the meter start)")
        previous: SessionSample | None = None
        for sample in samples:
            if not self.start <= sample.at <= self.end:
                raise InvalidInput(
                    f"sample at {sample.at.isoformat()} is outside the session "
                    f"{self.start.isoformat()}..{self.end.isoformat()}"
                )
            if previous is not None:
                if sample.at < previous.at:
                    raise InvalidInput(
                        f"samples are not in time order: {sample.at.isoformat()} after {previous.at.isoformat()}"
                    )
                if sample.energy_wh < previous.energy_wh:
                    raise InvalidInput(
                        f"energy went down from {previous.energy_wh} Wh to {sample.energy_wh} Wh at "
                        f"{sample.at.isoformat()}; clean register drop-outs before pricing"
                    )
            previous = sample
        if self.reservation is not None:
            if self.reservation.expired:
                raise InvalidInput("an expired reservation has no session; price it with price_reservation")
            if self.reservation.end > self.start:
                raise InvalidInput(
                    f"the reservation ends at {self.reservation.end.isoformat()}, after the session starts"
                )
        object.__setattr__(self, "samples", samples)


def _check_span(start: datetime, end: datetime, what: str) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(f"{what} start and end need a time zone")
    if end < start:
        raise InvalidInput(f"{what} ends ({end.isoformat()}) before it starts ({start.isoformat()})")


def session_segments(tariff: Tariff, session: ChargingSession) -> list[Segment]:
    """Cut a session into segments in which no restriction of `tariff` changes value."""
    elements = [e for e in tariff.elements if e.reservation is None]
    # The last sample of each instant wins.
    samples = tuple({sample.at: sample for sample in session.samples}.values())
    start, end = to_instant(session.start), to_instant(session.end)
    times = [to_instant(s.at) for s in samples]
    base = Fraction(samples[0].energy_wh)
    energies = [Fraction(s.energy_wh) - base for s in samples]

    cuts = {t for t in times if start < t < end}
    cuts.update(_clock_and_duration_cuts(elements, session.start, session.end, session.tz))
    for mark in energy_marks_wh(elements):
        for i in range(len(samples) - 1):
            low, high = energies[i], energies[i + 1]
            if low < mark < high:
                crossing = times[i] + (mark - low) / (high - low) * (times[i + 1] - times[i])
                if start < crossing < end:
                    cuts.add(crossing)

    points = sorted(cuts | {start, end})
    bounds = list(pairwise(points)) or [(start, end)]
    # One walk over the sorted points: `index` is the last sample at or before the point.
    index = 0
    state: list[int] = []
    energy: list[Fraction] = []
    for point in points:
        while index + 1 < len(times) and times[index + 1] <= point:
            index += 1
        state.append(index)
        energy.append(_interpolate(index, point, times, energies))
    segments: list[Segment] = []
    for k, (low, high) in enumerate(bounds):
        index = state[k]
        sample = samples[index]
        power = _power_kw(sample, index, low, times, energies)
        current = None if sample.current_a is None else Fraction(sample.current_a)
        duration = high - low
        charging = sample.charging
        energy_low = energy[k]
        energy_high = energy[k + 1] if k + 1 < len(energy) else energy_low
        segments.append(
            Segment(
                start=low,
                end=high,
                kind=PeriodKind.CHARGING if charging else PeriodKind.PARKING,
                energy_wh=energy_high - energy_low,
                time_s=duration if charging else Fraction(0),
                parking_s=Fraction(0) if charging else duration,
                reservation_s=Fraction(0),
                elapsed_s=low - start,
                energy_before_wh=energy_low,
                min_power_kw=power,
                max_power_kw=power,
                min_current_a=current,
                max_current_a=current,
            )
        )
    return segments


def _interpolate(index: int, instant: Fraction, times: list[Fraction], energies: list[Fraction]) -> Fraction:
    """The session energy at `instant`, given the last sample at or before it (flat outside the samples)."""
    if instant <= times[index] or index + 1 >= len(times):
        return energies[index]
    span = times[index + 1] - times[index]
    return energies[index] + (energies[index + 1] - energies[index]) * (instant - times[index]) / span


def reservation_segments(tariff: Tariff, reservation: Reservation, tz: tzinfo) -> list[Segment]:
    """Cut a reservation into segments in which no restriction of the reservation elements changes."""
    elements = [e for e in tariff.elements if e.reservation is not None]
    start, end = to_instant(reservation.start), to_instant(reservation.end)
    cuts = set(_clock_and_duration_cuts(elements, reservation.start, reservation.end, tz))
    points = sorted(cuts | {start, end})
    bounds = list(pairwise(points)) or [(start, end)]
    return [
        Segment(
            start=low,
            end=high,
            kind=PeriodKind.RESERVATION,
            energy_wh=Fraction(0),
            time_s=Fraction(0),
            parking_s=Fraction(0),
            reservation_s=high - low,
            elapsed_s=low - start,
            energy_before_wh=Fraction(0),
        )
        for low, high in bounds
    ]


def _clock_and_duration_cuts(
    elements: Sequence[TariffElement], start: datetime, end: datetime, tz: tzinfo
) -> set[Fraction]:
    cuts: set[Fraction] = set()
    if needs_clock(elements):
        cuts.update(to_instant(c) for c in clock_cuts(start, end, tz, times_of_day(elements)))
    for seconds in duration_marks(elements):
        mark = start + timedelta(seconds=seconds)
        if start < mark < end:
            cuts.add(to_instant(mark))
    return cuts


def _power_kw(
    sample: SessionSample, index: int, at: Fraction, times: list[Fraction], energies: list[Fraction]
) -> Fraction:
    if sample.power_w is not None:
        return Fraction(sample.power_w) / 1000
    if at < times[0] or index >= len(times) - 1 or times[index + 1] == times[index]:
        return Fraction(0)  # no energy flows before the first or after the last sample
    # Wh per second times 3600 s/h gives W; divided by 1000, kW.
    slope = (energies[index + 1] - energies[index]) / (times[index + 1] - times[index])
    return slope * Fraction(36, 10)

"""From what a meter said to a curve the tariff engine can price: cleaned registers, charging or idle.

A session's register readings are its meter start (StartTransaction), the register values of its
meter values in time order, and its meter stop. They are cleaned before pricing, because the engine
refuses energy that goes down (and should):

- A **drop-out**: the register reads lower once (or a few times) and later returns to at least where
  it was (ABB chargers send 0 now and then, lbbrhzn/ocpp #374). The low readings are ignored.
- A **reset**: the register reads lower and never returns (a meter swapped or restarted). Counting
  continues from the new value, so the session's energy stays flat across the reset; whatever flowed
  between the last reading before it and the reset is unknowable.

Both are reported, with every accepted step, so validation can flag the session.

Charging or idle (OCPI: TIME or PARKING_TIME) is decided per stretch between two points:
- energy flows (the register rose) unless it stood still for at least the operator's `idle_after_s`
  (a shorter pause is still charging; with 0 every still stretch is idle), and
- the connector's status, as reported during the session, is not SuspendedEV, SuspendedEVSE or
  Finishing.

The stretch after the last point (a running session) keeps the last stretch's state.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from voltbridge.billing.tariffs import SessionSample

_MICRO = timedelta(microseconds=1)

IDLE_STATUSES = frozenset({"SuspendedEV", "SuspendedEVSE", "Finishing"})
"""Connector states (OCPP 1.6) in which the EV is plugged in but not being charged."""


@dataclass(frozen=True, slots=True)
class Reading:
    """An energy register reading, in Wh."""

    at: datetime
    register_wh: int


@dataclass(frozen=True, slots=True)
class Instant:
    """Active power (W) and current summed over phases (A) measured at one instant, when reported."""

    at: datetime
    power_w: Decimal | None = None
    current_a: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StatusPoint:
    """A connector status from StatusNotification."""

    at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class MeterInput:
    """Everything known about one session's metering; `end` is the stop, or now for a running one."""

    start: datetime
    end: datetime
    meter_start_wh: int | None
    meter_stop_wh: int | None
    readings: Sequence[Reading] = ()
    instants: Sequence[Instant] = ()
    statuses: Sequence[StatusPoint] = ()
    idle_after_s: int = 0


@dataclass(frozen=True, slots=True)
class RegisterDrop:
    """The register read `after_wh` at `at` although it had reached `before_wh`."""

    at: datetime
    before_wh: int
    after_wh: int


@dataclass(frozen=True, slots=True)
class Step:
    """An accepted rise of the register between two readings `seconds` apart."""

    at: datetime
    delta_wh: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Curve:
    """The cleaned session: samples for the engine, the energy, and what cleaning found."""

    samples: tuple[SessionSample, ...]
    energy_wh: int
    resets: tuple[RegisterDrop, ...]
    dropouts: tuple[RegisterDrop, ...]
    steps: tuple[Step, ...]
    outside: int  # readings outside the session's start..end, ignored


def build_curve(data: MeterInput) -> Curve:
    """Clean the registers and mark charging and idle stretches (see the module docstring)."""
    inside = [r for r in data.readings if data.start <= r.at <= data.end]
    outside = len(data.readings) - len(inside)
    raw: list[tuple[datetime, int]] = []
    if data.meter_start_wh is not None:
        raw.append((data.start, data.meter_start_wh))
    raw.extend((r.at, r.register_wh) for r in inside)
    if data.meter_stop_wh is not None:
        raw.append((data.end, data.meter_stop_wh))
    raw.sort(key=lambda item: item[0])  # stable: a reading at the start stays after the meter start
    points, resets, dropouts, steps = _clean(raw)
    if not points:
        points = [(data.start, 0)]
    if points[0][0] > data.start:
        points.insert(0, (data.start, 0))
    energy = points[-1][1]
    flowing = _flowing(points, data.idle_after_s)
    samples = _samples(points, flowing, data)
    return Curve(
        samples=tuple(samples),
        energy_wh=energy,
        resets=tuple(resets),
        dropouts=tuple(dropouts),
        steps=tuple(steps),
        outside=outside,
    )


def _clean(
    raw: list[tuple[datetime, int]],
) -> tuple[list[tuple[datetime, int]], list[RegisterDrop], list[RegisterDrop], list[Step]]:
    """Accepted points as (time, session energy in Wh), with the resets, drop-outs and steps found."""
    if not raw:
        return [], [], [], []
    # later_max[i]: the highest register value at index i or after (tells a drop-out from a reset).
    later_max = [0] * (len(raw) + 1)
    later_max[len(raw)] = -1
    for i in range(len(raw) - 1, -1, -1):
        later_max[i] = max(raw[i][1], later_max[i + 1])
    points = [(raw[0][0], 0)]
    resets: list[RegisterDrop] = []
    dropouts: list[RegisterDrop] = []
    steps: list[Step] = []
    previous_at, previous_wh = raw[0]
    energy = 0
    for i in range(1, len(raw)):
        at, wh = raw[i]
        if wh < previous_wh:
            drop = RegisterDrop(at, previous_wh, wh)
            if later_max[i + 1] >= previous_wh:
                dropouts.append(drop)
                continue
            resets.append(drop)
            previous_at, previous_wh = at, wh
            points.append((at, energy))
            continue
        delta = wh - previous_wh
        energy += delta
        steps.append(Step(at, delta, (at - previous_at).total_seconds()))
        previous_at, previous_wh = at, wh
        points.append((at, energy))
    return points, resets, dropouts, steps


def _flowing(points: list[tuple[datetime, int]], idle_after_s: int) -> list[bool]:
    """Per stretch between consecutive points: is it charging as far as the energy tells?"""
    flows = [points[k + 1][1] > points[k][1] for k in range(len(points) - 1)]
    result = list(flows)
    k = 0
    while k < len(flows):
        if flows[k]:
            k += 1
            continue
        end = k
        while end < len(flows) and not flows[end]:
            end += 1
        still = (points[end][0] - points[k][0]).total_seconds()
        # A pause shorter than the operator's idle threshold is part of charging.
        idle = still >= idle_after_s
        for j in range(k, end):
            result[j] = not idle
        k = end
    return result


def _samples(
    points: list[tuple[datetime, int]], flowing: list[bool], data: MeterInput
) -> list[SessionSample]:
    # Only what the connector reported during the session counts: a status from before the start (the
    # previous session's Finishing, say) says nothing about this one.
    statuses = sorted((s for s in data.statuses if data.start <= s.at <= data.end), key=lambda s: s.at)
    instants = sorted((i for i in data.instants if data.start <= i.at <= data.end), key=lambda i: i.at)
    times = sorted(
        {p[0] for p in points}
        | {s.at for s in statuses if data.start < s.at < data.end}
        | {i.at for i in instants if data.start < i.at < data.end}
    )
    point_times = [p[0] for p in points]
    status_times = [s.at for s in statuses]
    instant_times = [i.at for i in instants]
    samples: list[SessionSample] = []
    for at in times:
        k = bisect_right(point_times, at) - 1
        energy = _energy_at(points, k, at)
        # The stretch starting here: the one between point k and k + 1 (the last one continues).
        stretch = min(k, len(flowing) - 1)
        charging = flowing[stretch] if flowing else True
        s = bisect_right(status_times, at) - 1
        if s >= 0 and statuses[s].status in IDLE_STATUSES:
            charging = False
        n = bisect_right(instant_times, at) - 1
        power = instants[n].power_w if n >= 0 else None
        current = instants[n].current_a if n >= 0 else None
        samples.append(
            SessionSample(at=at, energy_wh=energy, power_w=power, current_a=current, charging=charging)
        )
    return samples


def _energy_at(points: list[tuple[datetime, int]], k: int, at: datetime) -> int | Decimal:
    """Session energy at `at`, linear between the accepted points around it."""
    at_k, energy_k = points[k]
    if at == at_k or k + 1 >= len(points):
        return energy_k
    at_next, energy_next = points[k + 1]
    span = Fraction((at_next - at_k) // _MICRO)
    part = Fraction((at - at_k) // _MICRO)
    return _exact(energy_k + (energy_next - energy_k) * part / span)


def rescale(curve: Curve, energy_wh: int, *, start: datetime, end: datetime) -> Curve:
    """The curve with its energy corrected to `energy_wh`, keeping when the energy flowed.

    Each sample's energy is scaled by the same factor, so a correction changes how much was charged,
    not when. A curve that delivered nothing gets the energy spread evenly from start to end.
    """
    if energy_wh < 0:
        raise ValueError("a corrected energy cannot be negative")
    if curve.energy_wh > 0:
        factor = Fraction(energy_wh, curve.energy_wh)
        samples = tuple(
            SessionSample(
                at=s.at,
                energy_wh=_exact(Fraction(s.energy_wh) * factor),
                power_w=s.power_w,
                current_a=s.current_a,
                charging=s.charging,
            )
            for s in curve.samples
        )
    else:
        samples = (
            SessionSample(at=start, energy_wh=0, charging=True),
            SessionSample(at=max(end, start), energy_wh=energy_wh, charging=True),
        )
    return Curve(
        samples=samples,
        energy_wh=energy_wh,
        resets=curve.resets,
        dropouts=curve.dropouts,
        steps=curve.steps,
        outside=curve.outside,
    )


def _exact(value: Fraction) -> int | Decimal:
    if value.denominator == 1:
        return int(value)
    return Decimal(value.numerator) / Decimal(value.denominator)

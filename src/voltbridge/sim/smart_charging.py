"""Charging profiles (SetChargingProfile / ClearChargingProfile) and a simple composite schedule.

The composite follows OCPP 1.6 section 3.13 in its plain form: per purpose the profile with the
highest stack level in effect wins; a TxProfile overrides the TxDefaultProfile during a transaction
(a connector's own TxDefaultProfile overrides the one on connector 0); the ChargePointMaxProfile caps
the result. Where no profile applies, the connector's own maximum is the limit. The
ChargePointMaxProfile is applied to each connector alone rather than shared between them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, cast

from voltbridge.sim.types import ChargingProfileStatus, ChargingRateUnit, JsonObject

ProfilePurpose = Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
ProfileKind = Literal["Absolute", "Recurring", "Relative"]
_PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
_KINDS = ("Absolute", "Recurring", "Relative")
_UNITS = ("A", "W")
_RECURRENCE_S = {"Daily": 86_400, "Weekly": 7 * 86_400}


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    """One period of a charging schedule: from ``start_period`` seconds on, at most ``limit``."""

    start_period: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    """A charging profile installed on a connector (0: the whole charge point)."""

    id: int
    connector_id: int
    stack_level: int
    purpose: ProfilePurpose
    kind: ProfileKind
    rate_unit: ChargingRateUnit
    periods: tuple[SchedulePeriod, ...]
    installed_at: datetime
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | None = None
    duration: int | None = None
    start_schedule: datetime | None = None

    @classmethod
    def from_payload(cls, connector_id: int, data: JsonObject, *, installed_at: datetime) -> ChargingProfile:
        """Read csChargingProfiles (snake_case); raises ValueError when it makes no sense."""
        schedule = data.get("charging_schedule")
        if not isinstance(schedule, dict):
            raise ValueError("chargingSchedule is missing")
        raw_periods = schedule.get("charging_schedule_period")
        if not isinstance(raw_periods, list) or not raw_periods:
            raise ValueError("chargingSchedulePeriod needs at least one period")
        periods: list[SchedulePeriod] = []
        for raw in raw_periods:
            if not isinstance(raw, dict):
                raise ValueError(f"a chargingSchedulePeriod must be an object, got {raw!r}")
            periods.append(
                SchedulePeriod(
                    start_period=_int(raw.get("start_period"), "startPeriod"),
                    limit=_number(raw.get("limit"), "limit"),
                    number_phases=_optional_int(raw.get("number_phases"), "numberPhases"),
                )
            )
        starts = [period.start_period for period in periods]
        if starts[0] != 0 or starts != sorted(set(starts)):
            raise ValueError("chargingSchedulePeriod must start at 0 and increase")
        return cls(
            id=_int(data.get("charging_profile_id"), "chargingProfileId"),
            connector_id=connector_id,
            stack_level=_int(data.get("stack_level"), "stackLevel"),
            purpose=cast(
                ProfilePurpose, _literal(data.get("charging_profile_purpose"), _PURPOSES, "purpose")
            ),
            kind=cast(
                ProfileKind, _literal(data.get("charging_profile_kind"), _KINDS, "chargingProfileKind")
            ),
            rate_unit=cast(
                ChargingRateUnit, _literal(schedule.get("charging_rate_unit"), _UNITS, "rate unit")
            ),
            periods=tuple(periods),
            installed_at=installed_at,
            recurrency=_optional_str(data.get("recurrency_kind")),
            valid_from=_optional_time(data.get("valid_from")),
            valid_to=_optional_time(data.get("valid_to")),
            transaction_id=_optional_int(data.get("transaction_id"), "transactionId"),
            duration=_optional_int(schedule.get("duration"), "duration"),
            start_schedule=_optional_time(schedule.get("start_schedule")),
        )

    def period_at(self, at: datetime, tx_start: datetime | None) -> SchedulePeriod | None:
        """The period in effect at ``at``, or None if the profile does not apply then."""
        if self.valid_from is not None and at < self.valid_from:
            return None
        if self.valid_to is not None and at >= self.valid_to:
            return None
        start = self._schedule_start(at, tx_start)
        if start is None:
            return None
        offset = (at - start).total_seconds()
        if offset < 0 or (self.duration is not None and offset >= self.duration):
            return None
        current = self.periods[0]
        for period in self.periods:
            if period.start_period <= offset:
                current = period
        return current

    def breakpoints(self, begin: datetime, end: datetime, tx_start: datetime | None) -> Iterator[datetime]:
        """The instants around [begin, end) at which this profile's limit may change."""
        for bound in (self.valid_from, self.valid_to):
            if bound is not None:
                yield bound
        for start in self._cycle_starts(begin, end, tx_start):
            for period in self.periods:
                yield start + timedelta(seconds=period.start_period)
            if self.duration is not None:
                yield start + timedelta(seconds=self.duration)

    def _anchor(self) -> datetime:
        return self.start_schedule or self.valid_from or self.installed_at

    def _cycle(self) -> int:
        return _RECURRENCE_S.get(self.recurrency or "Daily", 86_400)

    def _schedule_start(self, at: datetime, tx_start: datetime | None) -> datetime | None:
        if self.kind == "Relative":
            return tx_start
        anchor = self._anchor()
        if self.kind == "Absolute":
            return anchor
        if at < anchor:
            return None
        cycles = math.floor((at - anchor).total_seconds() / self._cycle())
        return anchor + timedelta(seconds=cycles * self._cycle())

    def _cycle_starts(self, begin: datetime, end: datetime, tx_start: datetime | None) -> Iterator[datetime]:
        if self.kind == "Relative":
            if tx_start is not None:
                yield tx_start
            return
        anchor = self._anchor()
        if self.kind == "Absolute":
            yield anchor
            return
        first = max(0, math.floor((begin - anchor).total_seconds() / self._cycle()))
        last = math.ceil((end - anchor).total_seconds() / self._cycle())
        for k in range(first, last + 1):
            yield anchor + timedelta(seconds=k * self._cycle())


@dataclass(frozen=True, slots=True)
class ProfileLimits:
    """What a charger allows in charging profiles (its Smart Charging configuration keys)."""

    max_stack_level: int
    max_periods: int
    max_installed: int
    allowed_units: frozenset[ChargingRateUnit]


@dataclass(frozen=True, slots=True)
class _Limit:
    watts: float
    phases: int | None


class ChargingProfiles:
    """The installed charging profiles of a charger and the composite schedule they make."""

    def __init__(self, *, connectors: int, voltage_v: float, phases: int, max_power_w: float) -> None:
        self.connectors = connectors
        self.voltage_v = voltage_v
        self.phases = phases
        self.max_power_w = max_power_w
        self.profiles: list[ChargingProfile] = []

    def install(
        self, profile: ChargingProfile, limits: ProfileLimits, *, active_transaction: int | None
    ) -> ChargingProfileStatus:
        """Apply SetChargingProfile; ``active_transaction`` is the transaction on the profile's connector."""
        if not 0 <= profile.connector_id <= self.connectors:
            return "Rejected"
        if profile.purpose == "ChargePointMaxProfile" and profile.connector_id != 0:
            return "Rejected"
        if profile.purpose == "TxProfile":
            # A TxProfile only exists for a running transaction (spec 3.13.3).
            if profile.connector_id == 0 or active_transaction is None:
                return "Rejected"
            if profile.transaction_id is not None and profile.transaction_id != active_transaction:
                return "Rejected"
        if profile.stack_level > limits.max_stack_level or len(profile.periods) > limits.max_periods:
            return "Rejected"
        if profile.rate_unit not in limits.allowed_units:
            return "Rejected"
        # A profile replaces the one with its id, and the one with its connector, purpose and level.
        kept = [
            p
            for p in self.profiles
            if p.id != profile.id
            and (p.connector_id, p.purpose, p.stack_level)
            != (profile.connector_id, profile.purpose, profile.stack_level)
        ]
        if len(kept) >= limits.max_installed:
            return "Rejected"
        self.profiles = [*kept, profile]
        return "Accepted"

    def clear(
        self,
        *,
        profile_id: int | None,
        connector_id: int | None,
        purpose: str | None,
        stack_level: int | None,
    ) -> bool:
        """Apply ClearChargingProfile; True when at least one profile was removed."""

        def matches(p: ChargingProfile) -> bool:
            if profile_id is not None:
                return p.id == profile_id
            return (
                (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        kept = [p for p in self.profiles if not matches(p)]
        removed = len(kept) != len(self.profiles)
        self.profiles = kept
        return removed

    def end_transaction(self, connector_id: int) -> None:
        """Drop the connector's TxProfiles: they live only as long as their transaction."""
        self.profiles = [
            p for p in self.profiles if not (p.purpose == "TxProfile" and p.connector_id == connector_id)
        ]

    def limit_w(self, connector_id: int, at: datetime, tx_start: datetime | None) -> float | None:
        """The power limit of a connector at ``at`` in W, or None when no profile applies."""
        limit = self._limit(connector_id, at, tx_start)
        return None if limit is None else limit.watts

    def composite(
        self,
        connector_id: int,
        *,
        start: datetime,
        duration: int,
        unit: ChargingRateUnit,
        tx_start: datetime | None,
    ) -> list[SchedulePeriod]:
        """The composite schedule of a connector (0: the charge point) for ``duration`` s from ``start``."""
        end = start + timedelta(seconds=duration)
        instants = {start}
        for profile in self.profiles:
            if profile.connector_id in (0, connector_id):
                instants.update(t for t in profile.breakpoints(start, end, tx_start) if start <= t < end)
        # Where no profile applies the hardware is the limit: one connector's, or all of them on 0.
        ceiling = self.max_power_w if connector_id else self.max_power_w * self.connectors
        periods: list[SchedulePeriod] = []
        for at in sorted(instants):
            limit = self._limit(connector_id, at, tx_start)
            watts = ceiling if limit is None else min(ceiling, limit.watts)
            phases = self.phases if limit is None or limit.phases is None else limit.phases
            value = round(watts if unit == "W" else watts / (self.voltage_v * phases), 1)
            if periods and (periods[-1].limit, periods[-1].number_phases) == (value, phases):
                continue
            periods.append(SchedulePeriod(int((at - start).total_seconds()), value, phases))
        return periods

    def _limit(self, connector_id: int, at: datetime, tx_start: datetime | None) -> _Limit | None:
        def best(candidates: Iterable[ChargingProfile]) -> _Limit | None:
            for profile in sorted(candidates, key=lambda p: p.stack_level, reverse=True):
                period = profile.period_at(at, tx_start)
                if period is not None:
                    return self._watts(profile, period)
            return None

        cap = best(p for p in self.profiles if p.purpose == "ChargePointMaxProfile")
        if connector_id == 0:
            return cap
        own = [p for p in self.profiles if p.connector_id == connector_id]
        chosen = best(p for p in own if p.purpose == "TxProfile") if tx_start is not None else None
        if chosen is None:
            chosen = best(p for p in own if p.purpose == "TxDefaultProfile")
        if chosen is None:
            chosen = best(p for p in self.profiles if p.connector_id == 0 and p.purpose == "TxDefaultProfile")
        if chosen is None or cap is None:
            return chosen or cap
        return chosen if chosen.watts <= cap.watts else cap

    def _watts(self, profile: ChargingProfile, period: SchedulePeriod) -> _Limit:
        if profile.rate_unit == "W":
            return _Limit(period.limit, period.number_phases)
        phases = period.number_phases or self.phases
        return _Limit(period.limit * self.voltage_v * phases, period.number_phases)


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _optional_int(value: object, name: str) -> int | None:
    return None if value is None else _int(value, name)


def _number(value: object, name: str) -> float:
    # The ocpp package parses SetChargingProfile's numbers as Decimal to validate multipleOf 0.1.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _optional_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a date-time, got {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"date-time {value!r} has no offset")
    return parsed


def _literal(value: object, options: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value

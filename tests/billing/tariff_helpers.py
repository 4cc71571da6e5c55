"""Helpers for the tariff tests: the shared OCPI data, and sessions built from simple phases."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from voltbridge.billing.tariffs import ChargingSession, Reservation, SessionSample, Tariff, parse_tariff

# The repository's sibling `shared/` (see shared/README.md): used by path, never copied.
OCPI_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "ocpi"
VECTORS = OCPI_DATA / "tariff-vectors"
SPEC_EXAMPLES = OCPI_DATA / "spec-examples-2.2.1"

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def load_json(path: Path) -> Any:
    """JSON with numbers as Decimal, so 0.1 stays 0.1."""
    with path.open(encoding="utf-8") as handle:
        return json.load(handle, parse_float=Decimal)


def load_annotated_json(path: Path) -> Any:
    """The vectors' expected-output files: JSON with `#` comment lines and trailing commas."""
    text = "\n".join(
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.strip().startswith("#")
    )
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    return json.loads(text, parse_float=Decimal)


def spec_tariff(name: str) -> Tariff:
    """A Tariff from the 2.2.1 specification's examples folder."""
    return parse_tariff(load_json(SPEC_EXAMPLES / name))


def local(text: str, tz: tzinfo = AMSTERDAM) -> datetime:
    """A wall-clock time in `tz` as an aware datetime (first occurrence when ambiguous)."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@dataclass(frozen=True)
class Phase:
    """A stretch of a test session: its length, the energy delivered in it, and the meter's state."""

    minutes: Decimal | int
    energy_wh: int | Decimal = 0
    charging: bool = True
    power_w: Decimal | None = None
    current_a: Decimal | None = None


def session_of(
    start: datetime, phases: Sequence[Phase], tz: tzinfo = AMSTERDAM, reservation: Reservation | None = None
) -> ChargingSession:
    """A session with a sample at the start of each phase and one at the end (energy linear in between)."""
    samples = []
    # Step in UTC: adding minutes to an aware local time would step the wall clock, not real time.
    at, energy = start.astimezone(UTC), Decimal(0)
    for phase in phases:
        samples.append(
            SessionSample(
                at=at,
                energy_wh=energy,
                charging=phase.charging,
                power_w=phase.power_w,
                current_a=phase.current_a,
            )
        )
        at += timedelta(minutes=float(phase.minutes))
        energy += Decimal(phase.energy_wh)
    last = phases[-1]
    samples.append(
        SessionSample(
            at=at, energy_wh=energy, charging=last.charging, power_w=last.power_w, current_a=last.current_a
        )
    )
    return ChargingSession(
        start=start.astimezone(UTC), end=at, samples=samples, tz=tz, reservation=reservation
    )


def money(text: str) -> Decimal:
    """An expected amount."""
    return Decimal(text)

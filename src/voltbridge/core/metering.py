"""Meter values: normalising what chargers send (units, kWh vs Wh) into rows we can trust."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Prefixed units are scaled to their base unit; everything else is kept as sent.
_SCALE: dict[str, tuple[str, float]] = {
    "kWh": ("Wh", 1000.0),
    "kvarh": ("varh", 1000.0),
    "kW": ("W", 1000.0),
    "kvar": ("var", 1000.0),
}

REGISTER = "Energy.Active.Import.Register"


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampled value, normalised; `raw` is exactly what the charger sent."""

    at: datetime
    measurand: str
    phase: str | None
    location: str | None
    context: str | None
    unit: str | None
    value: float | None
    raw: str
    signed: dict[str, Any] | None

    @property
    def is_register(self) -> bool:
        """The session's energy register: the import register of the whole charger (no phase)."""
        return self.measurand == REGISTER and self.phase is None and self.location in (None, "Outlet")

    @property
    def register_wh(self) -> int | None:
        return round(self.value) if self.is_register and self.value is not None else None


def normalise(
    at: datetime,
    measurand: str | None,
    unit: str | None,
    raw: str,
    *,
    phase: str | None = None,
    location: str | None = None,
    context: str | None = None,
    format: str | None = None,
) -> Sample:
    """Build a sample; the 1.6 defaults apply (Energy.Active.Import.Register, Wh)."""
    measurand = measurand or REGISTER
    if unit is None and measurand.startswith("Energy.Active"):
        unit = "Wh"
    value: float | None = None
    signed: dict[str, Any] | None = None
    if format == "SignedData":
        signed = {"format": format, "data": raw}
    else:
        try:
            value = float(raw)
        except ValueError:
            value = None
    if unit in _SCALE and value is not None:
        unit, factor = _SCALE[unit]
        value *= factor
    elif unit in _SCALE:
        unit = _SCALE[unit][0]
    return Sample(at, measurand, phase, location, context, unit, value, raw, signed)


def last_register(samples: Iterable[Sample]) -> tuple[int, datetime] | None:
    """The latest energy register reading among the samples, in Wh."""
    best: tuple[int, datetime] | None = None
    for sample in samples:
        wh = sample.register_wh
        if wh is not None and (best is None or sample.at >= best[1]):
            best = (wh, sample.at)
    return best

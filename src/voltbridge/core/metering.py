"""Meter values: normalising what chargers send (units, kWh vs Wh) into rows we can trust."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from math import isfinite, nan
from typing import Any, NamedTuple

# Prefixed units are scaled to their base unit; everything else is kept as sent.
_SCALE: dict[str | None, tuple[str, float]] = {
    "kWh": ("Wh", 1000.0),
    "kvarh": ("varh", 1000.0),
    "kW": ("W", 1000.0),
    "kvar": ("var", 1000.0),
}

REGISTER = "Energy.Active.Import.Register"

Reading = tuple[int, datetime]
"""An energy register reading: Wh, and when it was taken."""


class Sample(NamedTuple):
    """One sampled value, normalised; `raw` is exactly what the charger sent.

    A named tuple rather than a frozen dataclass: the meter stream builds tens of thousands a second
    (a frozen dataclass costs several times more to build), and the bulk writer takes the fields in
    this order as they are (store/bulk.py `SampleRow`). The fields most samples lack come last.
    """

    at: datetime
    measurand: str
    context: str | None
    unit: str | None
    value: float | None
    raw: str
    phase: str | None
    location: str | None
    signed: dict[str, Any] | None

    @property
    def is_register(self) -> bool:
        """The session's energy register: the import register of the whole charger (no phase)."""
        return self.measurand == REGISTER and self.phase is None and self.location in (None, "Outlet")

    @property
    def register_wh(self) -> int | None:
        return _whole_wh(self.value) if self.is_register else None


_new_sample = tuple.__new__  # Sample's generated __new__ adds a Python call per sample


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
    plain = normalise_plain(at, measurand, unit, raw, context)
    if format == "SignedData":
        # The value is the signed data itself: kept as sent, with no number read from it.
        plain = plain._replace(value=None, signed={"format": format, "data": raw})
    if phase is None and location is None:
        return plain
    return plain._replace(phase=phase, location=location)


def normalise_plain(
    at: datetime, measurand: str | None, unit: str | None, raw: str, context: str | None
) -> Sample:
    """`normalise` for the common sampled value: no phase, no location, no format (so not signed)."""
    measurand = measurand or REGISTER
    if unit is None and measurand.startswith("Energy.Active"):
        unit = "Wh"
    try:
        number = float(raw)
    except ValueError:
        number = nan
    # Not a number, or not a finite one ("NaN", "inf"): kept as sent (raw), never counted or priced.
    value = number if isfinite(number) else None
    scale = _SCALE.get(unit)
    if scale is not None:
        unit = scale[0]
        if value is not None:
            value *= scale[1]
    return _new_sample(Sample, (at, measurand, context, unit, value, raw, None, None, None))


def last_register(samples: Iterable[Sample]) -> Reading | None:
    """The latest energy register reading among the samples, in Wh (the later one wins a tie)."""
    best: Reading | None = None
    for sample in samples:
        # Sample.register_wh, spelled out: this runs for every message of the meter stream.
        if (
            sample.measurand == REGISTER
            and sample.phase is None
            and sample.value is not None
            and (sample.location is None or sample.location == "Outlet")
        ):
            wh = _whole_wh(sample.value)
            if wh is not None and (best is None or sample.at >= best[1]):
                best = (wh, sample.at)
    return best


_MAX_WH = 2**63 - 1  # the register column's range (a 64-bit integer on both databases)


def _whole_wh(value: float | None) -> int | None:
    """A register value in whole Wh, or None for one no meter can read (NaN, infinite, beyond
    64 bits): such a sample is stored as sent but never moves the session's register."""
    if value is None or not -_MAX_WH <= value <= _MAX_WH:  # NaN fails every comparison
        return None
    return round(value)

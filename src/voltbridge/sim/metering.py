"""The meter of one connector: an energy register that rises at the charging power, and its samples.

Power is what the EV accepts of what the connector offers: the offer is the connector's maximum,
capped by the smart-charging limit; the EV takes all of it up to 80 % state of charge and tapers
linearly to nothing at 100 %, as batteries do.
"""

from __future__ import annotations

from collections.abc import Sequence

from voltbridge.sim.types import JsonObject, ReadingContext

SUPPORTED_MEASURANDS: tuple[str, ...] = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Power.Offered",
    "Current.Import",
    "Current.Offered",
    "Voltage",
    "SoC",
)

# Integrate in steps no longer than this, so a long gap (say, a charger offline for an hour)
# still follows the taper instead of charging at full power past 100 %.
_MAX_STEP_S = 60.0
_TAPER_FROM_SOC = 80.0
_PHASE_NAMES = ("L1", "L2", "L3")


class Meter:
    """The meter of one connector. Times are monotonic seconds, energy Wh, power W."""

    def __init__(
        self,
        *,
        max_power_w: float,
        phases: int,
        voltage_v: float,
        battery_capacity_wh: float,
        register_wh: float = 0.0,
        now: float = 0.0,
    ) -> None:
        self.max_power_w = max_power_w
        self.phases = phases
        self.voltage_v = voltage_v
        self.battery_capacity_wh = battery_capacity_wh
        self.register_wh = float(register_wh)
        self.soc_percent: float | None = None
        self.offered_w = 0.0
        self.power_w = 0.0
        self._charging = False
        self._last = now

    @property
    def register(self) -> int:
        """The energy register as the wire carries it: whole Wh, never rounded up."""
        # The nudge absorbs float noise of summing steps (1099.9999… Wh is 1100 Wh).
        return int(self.register_wh + 1e-6)

    def start_charging(self, now: float, *, soc_percent: float, limit_w: float | None) -> None:
        """An EV at ``soc_percent`` starts drawing power now."""
        self.advance(now, limit_w)
        self.soc_percent = soc_percent
        self._charging = True
        self._set_power(limit_w)

    def stop_charging(self, now: float) -> None:
        """The session ends now; the register keeps its value, the EV leaves."""
        self.advance(now, None)
        self._charging = False
        self.soc_percent = None
        self.offered_w = 0.0
        self.power_w = 0.0

    def advance(self, now: float, limit_w: float | None) -> None:
        """Account for the energy drawn since the last call, then take ``limit_w`` as the new cap."""
        remaining = max(0.0, now - self._last)
        while remaining > 0 and self._charging:
            step = min(remaining, _MAX_STEP_S)
            energy = self.power_w * step / 3600.0
            self.register_wh += energy
            if self.soc_percent is not None:
                self.soc_percent = min(100.0, self.soc_percent + energy / self.battery_capacity_wh * 100.0)
            self._set_power(limit_w)
            remaining -= step
        self._last = max(self._last, now)
        self._set_power(limit_w)

    def sample(self, measurands: Sequence[str], *, context: ReadingContext, timestamp: str) -> JsonObject:
        """One MeterValue (snake_case, as the ``ocpp`` package takes it) with the given measurands."""
        values: list[JsonObject] = []
        for measurand in measurands:
            values.extend(self._sampled_values(measurand, context))
        return {"timestamp": timestamp, "sampled_value": values}

    def _set_power(self, limit_w: float | None) -> None:
        if not self._charging:
            self.offered_w = self.power_w = 0.0
            return
        self.offered_w = self.max_power_w if limit_w is None else max(0.0, min(self.max_power_w, limit_w))
        soc = self.soc_percent if self.soc_percent is not None else 0.0
        acceptance = 1.0 if soc < _TAPER_FROM_SOC else max(0.0, (100.0 - soc) / (100.0 - _TAPER_FROM_SOC))
        self.power_w = self.offered_w * acceptance

    def _sampled_values(self, measurand: str, context: ReadingContext) -> list[JsonObject]:
        def value(text: str, unit: str, *, phase: str | None = None, location: str = "Outlet") -> JsonObject:
            item: JsonObject = {
                "value": text,
                "context": context,
                "measurand": measurand,
                "location": location,
                "unit": unit,
            }
            if phase is not None:
                item["phase"] = phase
            return item

        phases = _PHASE_NAMES[: self.phases]
        if measurand == "Energy.Active.Import.Register":
            return [value(str(self.register), "Wh")]
        if measurand == "Power.Active.Import":
            return [value(f"{self.power_w:.0f}", "W")]
        if measurand == "Power.Offered":
            return [value(f"{self.offered_w:.0f}", "W")]
        if measurand == "Current.Import":
            amps = self.power_w / (self.voltage_v * self.phases)
            return [value(f"{amps:.1f}", "A", phase=phase) for phase in phases]
        if measurand == "Current.Offered":
            return [value(f"{self.offered_w / (self.voltage_v * self.phases):.1f}", "A")]
        if measurand == "Voltage":
            return [value(f"{self.voltage_v:.1f}", "V", phase=f"{phase}-N") for phase in phases]
        if measurand == "SoC":
            if self.soc_percent is None:
                return []
            return [value(f"{self.soc_percent:.0f}", "Percent", location="EV")]
        return []

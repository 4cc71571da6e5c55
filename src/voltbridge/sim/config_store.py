"""The charger's configuration keys (OCPP 1.6 chapter 9): values, read-only flags and validation.

Keys are CiString: the backend may spell them in any case, answers use the spelling of the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from voltbridge.sim.config import ChargerConfig
from voltbridge.sim.metering import SUPPORTED_MEASURANDS
from voltbridge.sim.types import ConfigurationStatus

# "seconds" accepts fractions, unlike the spec's integers: tests and load runs sample faster than 1 Hz.
ValueKind = Literal["int", "seconds", "bool", "csl", "text"]

# The spec limits a GetConfiguration value to 500 characters (CiString500).
MAX_VALUE_LENGTH = 500


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One configuration key as GetConfiguration reports it, plus how a new value is checked."""

    key: str
    value: str
    readonly: bool = False
    kind: ValueKind = "text"
    reboot_required: bool = False
    # For "csl" keys: the allowed items and how many may be listed.
    choices: frozenset[str] | None = None
    max_items: int | None = None


def format_seconds(seconds: float) -> str:
    """A number of seconds as a configuration value: ``"10"``, or ``"0.05"`` for fractions."""
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


class ConfigurationStore:
    """The configuration key store behind GetConfiguration and ChangeConfiguration."""

    def __init__(
        self, entries: Iterable[ConfigEntry], *, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._entries: dict[str, ConfigEntry] = {entry.key.lower(): entry for entry in entries}
        self._on_change = on_change

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._entries

    def get(self, key: str) -> str | None:
        """The value of ``key``, or None if this charger does not know it."""
        entry = self._entries.get(key.lower())
        return None if entry is None else entry.value

    def number(self, key: str) -> float:
        """The numeric value of a known "int" or "seconds" key."""
        return float(self._entry(key).value)

    def flag(self, key: str) -> bool:
        """The value of a known "bool" key."""
        return self._entry(key).value.lower() == "true"

    def items(self, key: str) -> list[str]:
        """The items of a known comma-separated-list key, in order."""
        return [item.strip() for item in self._entry(key).value.split(",") if item.strip()]

    def entries(self, keys: Sequence[str] | None = None) -> tuple[list[ConfigEntry], list[str]]:
        """The entries asked for (all when ``keys`` is None or empty) and the keys that are unknown."""
        if not keys:
            return list(self._entries.values()), []
        known: list[ConfigEntry] = []
        unknown: list[str] = []
        for key in keys:
            entry = self._entries.get(key.lower())
            if entry is None:
                unknown.append(key)
            else:
                known.append(entry)
        return known, unknown

    def change(self, key: str, value: str) -> ConfigurationStatus:
        """Apply ChangeConfiguration: NotSupported for unknown keys, Rejected for read-only or bad values."""
        entry = self._entries.get(key.lower())
        if entry is None:
            return "NotSupported"
        if entry.readonly:
            return "Rejected"
        normalised = _normalise(entry, value)
        if normalised is None:
            return "Rejected"
        self._store(entry, normalised)
        return "RebootRequired" if entry.reboot_required else "Accepted"

    def set(self, key: str, value: str) -> None:
        """Set a known key from inside the charger (read-only keys included), e.g. the boot interval."""
        self._store(self._entry(key), value)

    def _store(self, entry: ConfigEntry, value: str) -> None:
        if value == entry.value:
            return
        self._entries[entry.key.lower()] = replace(entry, value=value)
        if self._on_change is not None:
            self._on_change(entry.key)

    def _entry(self, key: str) -> ConfigEntry:
        try:
            return self._entries[key.lower()]
        except KeyError:
            raise KeyError(f"configuration key {key!r} is not defined for this charger") from None


def _normalise(entry: ConfigEntry, value: str) -> str | None:
    """The value as stored, or None when it does not fit the key."""
    text = value.strip()
    if len(text) > MAX_VALUE_LENGTH:
        return None
    if entry.kind == "int":
        return text if text.isdigit() else None
    if entry.kind == "seconds":
        try:
            seconds = float(text)
        except ValueError:
            return None
        return format_seconds(seconds) if seconds >= 0 and seconds != float("inf") else None
    if entry.kind == "bool":
        return text.lower() if text.lower() in ("true", "false") else None
    if entry.kind == "csl":
        items = [item.strip() for item in text.split(",") if item.strip()]
        if entry.max_items is not None and len(items) > entry.max_items:
            return None
        if entry.choices is not None and not set(items) <= entry.choices:
            return None
        return ",".join(items)
    return text


def default_configuration(
    config: ChargerConfig, *, on_change: Callable[[str], None] | None = None
) -> ConfigurationStore:
    """The keys a fresh simulated charger reports: Core plus the profiles it supports."""
    measurands = frozenset(SUPPORTED_MEASURANDS)
    csl_max = len(SUPPORTED_MEASURANDS)

    def rw(
        key: str,
        value: str,
        kind: ValueKind = "text",
        *,
        choices: frozenset[str] | None = None,
        max_items: int | None = None,
        reboot_required: bool = False,
    ) -> ConfigEntry:
        return ConfigEntry(key, value, False, kind, reboot_required, choices, max_items)

    def ro(key: str, value: str, kind: ValueKind = "text") -> ConfigEntry:
        return ConfigEntry(key, value, True, kind)

    sampled = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
    entries = [
        # Core
        rw("AllowOfflineTxForUnknownId", "false", "bool"),
        rw("AuthorizationCacheEnabled", "true", "bool"),
        rw("AuthorizeRemoteTxRequests", "false", "bool"),
        rw("BlinkRepeat", "3", "int"),
        rw("ClockAlignedDataInterval", "0", "int"),
        rw("ConnectionTimeOut", "60", "int"),
        rw("ConnectorPhaseRotation", ",".join(f"{n}.RST" for n in range(config.connectors + 1)), "text"),
        ro("ConnectorPhaseRotationMaxLength", str(config.connectors + 1), "int"),
        ro("GetConfigurationMaxKeys", "100", "int"),
        rw("HeartbeatInterval", format_seconds(config.heartbeat_interval), "seconds"),
        rw("LightIntensity", "100", "int"),
        rw("LocalAuthorizeOffline", "true", "bool"),
        rw("LocalPreAuthorize", "false", "bool"),
        rw("MaxEnergyOnInvalidId", "0", "int"),
        rw(
            "MeterValuesAlignedData",
            "Energy.Active.Import.Register",
            "csl",
            choices=measurands,
            max_items=csl_max,
        ),
        ro("MeterValuesAlignedDataMaxLength", str(csl_max), "int"),
        rw("MeterValuesSampledData", sampled, "csl", choices=measurands, max_items=csl_max),
        ro("MeterValuesSampledDataMaxLength", str(csl_max), "int"),
        rw("MeterValueSampleInterval", format_seconds(config.meter_interval), "seconds"),
        rw("MinimumStatusDuration", "0", "int"),
        ro("NumberOfConnectors", str(config.connectors), "int"),
        rw("ResetRetries", "3", "int"),
        rw("StopTransactionOnEVSideDisconnect", "true", "bool"),
        rw("StopTransactionOnInvalidId", "true", "bool"),
        rw("StopTxnAlignedData", "", "csl", choices=measurands, max_items=csl_max),
        ro("StopTxnAlignedDataMaxLength", str(csl_max), "int"),
        rw(
            "StopTxnSampledData",
            "Energy.Active.Import.Register",
            "csl",
            choices=measurands,
            max_items=csl_max,
        ),
        ro("StopTxnSampledDataMaxLength", str(csl_max), "int"),
        ro(
            "SupportedFeatureProfiles",
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger",
            "csl",
        ),
        ro("SupportedFeatureProfilesMaxLength", "6", "int"),
        rw("TransactionMessageAttempts", "3", "int"),
        rw("TransactionMessageRetryInterval", "60", "int"),
        rw("UnlockConnectorOnEVSideDisconnect", "true", "bool"),
        # The WebSocket ping interval is read when connecting, so a change needs a reboot to apply.
        rw("WebSocketPingInterval", "0", "int", reboot_required=True),
        # Local Auth List Management
        rw("LocalAuthListEnabled", "true", "bool"),
        ro("LocalAuthListMaxLength", "1000", "int"),
        ro("SendLocalListMaxLength", "100", "int"),
        # Reservation
        ro("ReserveConnectorZeroSupported", "true", "bool"),
        # Smart Charging
        ro("ChargeProfileMaxStackLevel", "10", "int"),
        ro("ChargingScheduleAllowedChargingRateUnit", "Current,Power", "csl"),
        ro("ChargingScheduleMaxPeriods", "24", "int"),
        ro("ConnectorSwitch3to1PhaseSupported", "false", "bool"),
        ro("MaxChargingProfilesInstalled", "20", "int"),
    ]
    return ConfigurationStore(entries, on_change=on_change)

"""What a simulated charger knows and decides, without any I/O.

The charger (charger.py) does the talking; the command handlers (commands.py) ask this model what to
answer. Keeping the rules here lets both share them: a remote start and a local start check the
same conditions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from voltbridge.sim.config import ChargerConfig
from voltbridge.sim.config_store import ConfigurationStore, default_configuration
from voltbridge.sim.local_auth import AuthorizationCache, LocalAuthList, TagInfo
from voltbridge.sim.metering import Meter
from voltbridge.sim.smart_charging import ChargingProfiles, ProfileLimits
from voltbridge.sim.state import Connector, Reservation, Transaction
from voltbridge.sim.types import (
    AvailabilityStatus,
    ChargingRateUnit,
    ConnectorStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    ReservationStatus,
)


class Station:
    """The state of one simulated charger: connectors, sessions, reservations, lists, profiles."""

    def __init__(
        self, station_id: str, config: ChargerConfig, *, on_config_change: Callable[[str], None]
    ) -> None:
        self.station_id = station_id
        self.config = config
        self.firmware_version = config.firmware_version
        self.configuration: ConfigurationStore = default_configuration(config, on_change=on_config_change)
        self.charge_point = Connector(0, meter=None)
        self.connectors: dict[int, Connector] = {
            n: Connector(
                n,
                meter=Meter(
                    max_power_w=config.max_power_w,
                    phases=config.phases,
                    voltage_v=config.voltage_v,
                    battery_capacity_wh=config.battery_capacity_wh,
                    register_wh=config.initial_register_wh,
                ),
            )
            for n in range(1, config.connectors + 1)
        }
        self.transactions: list[Transaction] = []
        self.reservations: dict[int, Reservation] = {}
        self.local_list = LocalAuthList()
        self.auth_cache = AuthorizationCache()
        self.profiles = ChargingProfiles(
            connectors=config.connectors,
            voltage_v=config.voltage_v,
            phases=config.phases,
            max_power_w=config.max_power_w,
        )
        self.firmware_status: FirmwareStatus = "Idle"
        self.diagnostics_status: DiagnosticsStatus = "Idle"
        self.data_transfers: list[tuple[str, str | None, str | None]] = []
        """DataTransfer requests received: (vendorId, messageId, data)."""

    # Connectors and transactions

    def connector(self, connector_id: int) -> Connector:
        """Connector ``connector_id`` (0: the charge point); KeyError if there is no such connector."""
        if connector_id == 0:
            return self.charge_point
        return self.connectors[connector_id]

    def has_connector(self, connector_id: int, *, zero: bool = False) -> bool:
        """True for 1..n, and for 0 when ``zero``."""
        return connector_id in self.connectors or (zero and connector_id == 0)

    def meter(self, connector_id: int) -> Meter:
        """The meter of connector ``connector_id`` (1..n)."""
        meter = self.connectors[connector_id].meter
        assert meter is not None, "only connector 0 has no meter"
        return meter

    def active_transaction(self, connector_id: int) -> Transaction | None:
        """The running transaction on a connector, if any."""
        for tx in reversed(self.transactions):
            if tx.connector_id == connector_id and tx.active:
                return tx
        return None

    def find_transaction(self, transaction_id: int) -> Transaction | None:
        """The running transaction with the backend's id ``transaction_id``, if any."""
        for tx in self.transactions:
            if tx.transaction_id == transaction_id and tx.active:
                return tx
        return None

    def active_transactions(self) -> list[Transaction]:
        """All running transactions, oldest first."""
        return [tx for tx in self.transactions if tx.active]

    def can_start(self, connector_id: int, id_tag: str, parent_id_tag: str | None = None) -> bool:
        """True if a session for ``id_tag`` may begin on the connector now."""
        if not self.has_connector(connector_id) or not self.charge_point.operative:
            return False
        connector = self.connectors[connector_id]
        if not connector.operative or self.active_transaction(connector_id) is not None:
            return False
        if connector.status == "Available":
            # A reservation of "any connector" (0) keeps one connector free for its holder.
            anywhere = self.reservation_on(0)
            return anywhere is None or anywhere.admits(id_tag, parent_id_tag) or self._free_connectors() > 1
        if connector.status == "Reserved":
            reservation = self.reservation_on(connector_id)
            return reservation is not None and reservation.admits(id_tag, parent_id_tag)
        return False

    def pick_connector(self, id_tag: str) -> int | None:
        """The first connector where ``id_tag`` may start a session (its reservation first)."""
        for reservation in self.reservations.values():
            connector_id = reservation.connector_id
            if connector_id and reservation.admits(id_tag) and self.can_start(connector_id, id_tag):
                return connector_id
        for connector_id in self.connectors:
            if self.can_start(connector_id, id_tag):
                return connector_id
        return None

    def apply_scheduled_availability(self, connector_id: int) -> None:
        """Make an availability change that waited for the connector's session take effect."""
        connector = self.connector(connector_id)
        if connector.scheduled_operative is not None:
            connector.operative = connector.scheduled_operative
            connector.scheduled_operative = None

    def idle_status(self, connector_id: int) -> ConnectorStatus:
        """The status a connector without a session has: Unavailable, Reserved or Available."""
        connector = self.connector(connector_id)
        if not connector.operative or (connector_id and not self.charge_point.operative):
            return "Unavailable"
        if connector_id and self.reservation_on(connector_id) is not None:
            return "Reserved"
        return "Available"

    def change_availability(self, connector_id: int, operative: bool) -> tuple[AvailabilityStatus, list[int]]:
        """Apply ChangeAvailability; also returns the connectors whose status changes now."""
        if not self.has_connector(connector_id, zero=True):
            return "Rejected", []
        targets = [connector_id] if connector_id else [0, *self.connectors]
        busy = [n for n in targets if n and self.active_transaction(n) is not None]
        changed: list[int] = []
        for n in targets:
            connector = self.connector(n)
            if n in busy:
                # Spec 5.2: the change waits for the transaction to end, and the answer says so.
                connector.scheduled_operative = operative
            else:
                connector.operative = operative
                connector.scheduled_operative = None
                changed.append(n)
        if connector_id == 0:
            self.charge_point.operative = operative
        for n in changed:
            if n == 0 or self.connector(n).status in ("Available", "Unavailable", "Reserved"):
                self.connector(n).status = self.idle_status(n)
        return ("Scheduled" if busy else "Accepted"), changed

    # Reservations

    def reservation_on(self, connector_id: int) -> Reservation | None:
        """The reservation that holds a connector (0: one for any connector), if any."""
        for reservation in self.reservations.values():
            if reservation.connector_id == connector_id:
                return reservation
        return None

    def reserve(self, reservation: Reservation) -> ReservationStatus:
        """Apply ReserveNow; the caller reports a status change for an Accepted reservation."""
        connector_id = reservation.connector_id
        if not self.has_connector(connector_id, zero=True):
            return "Rejected"
        if connector_id == 0 and not self.configuration.flag("ReserveConnectorZeroSupported"):
            return "Rejected"
        connector = self.connector(connector_id)
        if connector.status == "Faulted":
            return "Faulted"
        if not connector.operative or not self.charge_point.operative:
            return "Unavailable"
        previous = self.reservations.get(reservation.reservation_id)
        if connector_id == 0:
            if self._free_connectors() == 0:
                return "Occupied"
        else:
            holder = self.reservation_on(connector_id)
            if self.active_transaction(connector_id) is not None or connector.status not in (
                "Available",
                "Reserved",
            ):
                return "Occupied"
            if holder is not None and holder.reservation_id != reservation.reservation_id:
                return "Occupied"
        if previous is not None and previous.connector_id != connector_id:
            self.cancel_reservation(previous.reservation_id)
        self.reservations[reservation.reservation_id] = reservation
        if connector_id:
            connector.status = "Reserved"
        return "Accepted"

    def cancel_reservation(self, reservation_id: int) -> Reservation | None:
        """Drop a reservation; returns it, or None if there was none with that id."""
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is not None and reservation.connector_id:
            connector = self.connector(reservation.connector_id)
            if connector.status == "Reserved":
                connector.status = self.idle_status(reservation.connector_id)
        return reservation

    def reservation_for(self, connector_id: int, id_tag: str) -> Reservation | None:
        """The reservation a session of ``id_tag`` on the connector fulfils (its own, or one for 0)."""
        for reservation in self.reservations.values():
            if reservation.connector_id in (connector_id, 0) and reservation.admits(id_tag):
                return reservation
        return None

    def _free_connectors(self) -> int:
        return sum(
            1
            for n, connector in self.connectors.items()
            if connector.operative and connector.status == "Available" and self.active_transaction(n) is None
        )

    # Authorization, profiles, metering settings

    def local_authorization(self, id_tag: str, now: datetime) -> TagInfo | None:
        """What the Local Authorization List, then the cache, say about ``id_tag``."""
        if self.configuration.flag("LocalAuthListEnabled"):
            entry = self.local_list.lookup(id_tag)
            if entry is not None:
                return TagInfo(entry.status_at(now), entry.expiry_date, entry.parent_id_tag)
        if self.configuration.flag("AuthorizationCacheEnabled"):
            cached = self.auth_cache.lookup(id_tag)
            if cached is not None:
                return TagInfo(cached.status_at(now), cached.expiry_date, cached.parent_id_tag)
        return None

    def profile_limits(self) -> ProfileLimits:
        """The Smart Charging limits from the configuration keys."""
        store = self.configuration
        units = {"Current": "A", "Power": "W"}
        allowed = frozenset(
            cast(ChargingRateUnit, units[item])
            for item in store.items("ChargingScheduleAllowedChargingRateUnit")
            if item in units
        )
        return ProfileLimits(
            max_stack_level=int(store.number("ChargeProfileMaxStackLevel")),
            max_periods=int(store.number("ChargingScheduleMaxPeriods")),
            max_installed=int(store.number("MaxChargingProfilesInstalled")),
            allowed_units=allowed,
        )

    def limit_w(self, connector_id: int, now: datetime) -> float | None:
        """The smart-charging power limit of a connector now (None: only the hardware limits it)."""
        tx = self.active_transaction(connector_id)
        return self.profiles.limit_w(connector_id, now, None if tx is None else tx.started_at)

    def sampled_measurands(self) -> list[str]:
        """What periodic and triggered MeterValues carry (MeterValuesSampledData)."""
        return self.configuration.items("MeterValuesSampledData")

    def stop_measurands(self) -> list[str]:
        """What a StopTransaction's transactionData carries (StopTxnSampledData)."""
        return self.configuration.items("StopTxnSampledData")

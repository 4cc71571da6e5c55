"""Observable records of a simulated charger: transactions, reservations, connectors, counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from voltbridge.sim.metering import Meter
from voltbridge.sim.types import AuthorizationStatus, ConnectorStatus, JsonObject, StopReason


@dataclass(slots=True)
class Transaction:
    """A charging session as the charger knows it. ``transaction_id`` is the backend's."""

    connector_id: int
    id_tag: str
    transaction_id: int
    meter_start_wh: int
    started_at: datetime
    id_tag_status: AuthorizationStatus
    remote: bool
    reservation_id: int | None = None
    # Monotonic time at which the EV leaves by itself (None: only a stop command ends it).
    ends_at: float | None = None
    # The StopTxnSampledData samples at start and end: the StopTransaction's transactionData.
    begin_sample: JsonObject | None = None
    end_sample: JsonObject | None = None
    meter_values_sent: int = 0
    stopped_at: datetime | None = None
    meter_stop_wh: int | None = None
    stop_reason: StopReason | None = None
    # False until the backend answered StopTransaction; a lost stop is sent again after reconnecting.
    stop_sent: bool = False

    @property
    def active(self) -> bool:
        """True until the session ends (its StopTransaction may still be on its way)."""
        return self.stopped_at is None

    @property
    def energy_wh(self) -> int | None:
        """Energy of the session so far as the charger reported it, once stopped."""
        return None if self.meter_stop_wh is None else self.meter_stop_wh - self.meter_start_wh


@dataclass(frozen=True, slots=True)
class Reservation:
    """A reservation made with ReserveNow."""

    reservation_id: int
    connector_id: int
    id_tag: str
    expiry: datetime
    parent_id_tag: str | None = None

    def admits(self, id_tag: str, parent_id_tag: str | None = None) -> bool:
        """True if a session for ``id_tag`` (with that parent) may use the reservation."""
        return id_tag == self.id_tag or (parent_id_tag is not None and parent_id_tag == self.parent_id_tag)


@dataclass(slots=True)
class Connector:
    """One connector (``connector_id`` 0 stands for the charge point as a whole)."""

    connector_id: int
    meter: Meter | None
    status: ConnectorStatus = "Available"
    error_code: str = "NoError"
    # Availability survives reboots (spec 5.2); a change asked for during a transaction waits for its end.
    operative: bool = True
    scheduled_operative: bool | None = None


@dataclass(slots=True)
class MessageCounters:
    """What went over the wire, by action."""

    sent: Counter[str] = field(default_factory=Counter)
    """CALLs the charger sent."""
    answered: Counter[str] = field(default_factory=Counter)
    """CALLs of the charger the backend answered with a CALLRESULT."""
    failed: Counter[str] = field(default_factory=Counter)
    """CALLs of the charger answered with a CALLERROR or not in time."""
    received: Counter[str] = field(default_factory=Counter)
    """CALLs (commands) the backend sent to the charger."""
    replied: Counter[str] = field(default_factory=Counter)
    """Commands the charger answered with a CALLRESULT."""

    def total(self) -> int:
        """Messages exchanged in both directions: CALLs and their CALLRESULTs."""
        return (
            sum(self.sent.values())
            + sum(self.answered.values())
            + sum(self.received.values())
            + sum(self.replied.values())
        )

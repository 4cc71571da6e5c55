"""Domain events published on the bus after the unit of work that caused them has committed.

Each is about one station (`ordered_by`): a subscriber gets a station's events in order. Meter values
are readings (`latest_by`): a subscriber that is behind gets the newest per transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from voltbridge.bus import Event


@dataclass(frozen=True, kw_only=True)
class StationConnected(Event):
    topic: ClassVar[str] = "station.connected"
    ordered_by: ClassVar[str] = "station_id"
    station_id: str
    ocpp_version: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class StationDisconnected(Event):
    topic: ClassVar[str] = "station.disconnected"
    ordered_by: ClassVar[str] = "station_id"
    station_id: str
    at: datetime
    reason: str


@dataclass(frozen=True, kw_only=True)
class StationBooted(Event):
    topic: ClassVar[str] = "station.booted"
    ordered_by: ClassVar[str] = "station_id"
    station_id: str
    registration_status: str
    at: datetime
    boot: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StatusChanged(Event):
    topic: ClassVar[str] = "station.status"
    ordered_by: ClassVar[str] = "station_id"
    station_id: str
    connector_id: int
    status: str
    error_code: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class TransactionStarted(Event):
    topic: ClassVar[str] = "transaction.started"
    ordered_by: ClassVar[str] = "station_id"
    transaction_id: int
    station_id: str
    connector_id: int
    id_tag: str | None
    started_at: datetime | None
    meter_start_wh: int | None


@dataclass(frozen=True, kw_only=True)
class TransactionStopped(Event):
    topic: ClassVar[str] = "transaction.stopped"
    ordered_by: ClassVar[str] = "station_id"
    transaction_id: int
    station_id: str
    connector_id: int
    stopped_at: datetime | None
    meter_stop_wh: int | None
    energy_wh: int | None
    stop_reason: str | None


@dataclass(frozen=True, kw_only=True)
class MeterValuesReceived(Event):
    topic: ClassVar[str] = "transaction.meter_values"
    ordered_by: ClassVar[str] = "station_id"
    # A newer reading of the connector's transaction may replace a queued one (bus/subscribers.py).
    latest_by: ClassVar[tuple[str, ...]] = ("connector_id", "transaction_id")
    station_id: str
    connector_id: int
    transaction_id: int | None
    samples: int
    last_register_wh: int | None
    at: datetime | None


@dataclass(frozen=True, kw_only=True)
class CommandCompleted(Event):
    topic: ClassVar[str] = "command.completed"
    ordered_by: ClassVar[str] = "station_id"
    command_id: int
    station_id: str
    action: str
    status: str

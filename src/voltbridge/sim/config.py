"""Settings of one simulated charger and of a fleet, as typed value objects."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal

FleetMode = Literal["sessions", "load"]


@dataclass(frozen=True, slots=True)
class ChargerConfig:
    """How a simulated charger looks and behaves. Times are seconds; power is W per connector."""

    vendor: str = "voltbridge"
    model: str = "sim-1"
    firmware_version: str = "1.0.0"
    connectors: int = 2
    max_power_w: float = 11_000.0
    phases: int = 3
    voltage_v: float = 230.0
    # Initial MeterValueSampleInterval; the backend may change it with ChangeConfiguration.
    meter_interval: float = 10.0
    # Used until a BootNotification is accepted; afterwards the backend's interval applies.
    heartbeat_interval: float = 300.0
    # Automatic sessions: every idle connector plugs in after `idle_duration` and charges for
    # `session_duration`. Remote starts are always honoured; they also end after `session_duration`.
    auto_sessions: bool = True
    session_duration: float | None = 60.0
    idle_duration: float = 30.0
    # Spread of session and idle durations (0.1 = +-10 %), so a fleet does not act in lockstep.
    jitter: float = 0.0
    id_tags: tuple[str, ...] = ("SIMTAG0001",)
    battery_capacity_wh: float = 60_000.0
    initial_soc_percent: float = 20.0
    initial_register_wh: int = 0
    response_timeout: float = 30.0
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = 60.0
    # Boot retry wait when a Pending/Rejected answer carries interval 0.
    boot_retry_interval: float = 10.0
    # Pause between the steps of a firmware update or diagnostics upload.
    firmware_step_delay: float = 1.0
    diagnostics_step_delay: float = 1.0
    # Check our CALLs and the backend's answers against the OCPP JSON schemas. Load runs may turn
    # this off so that the simulator's own validation is not what limits the measured throughput.
    validate_schemas: bool = True
    # DataTransfer: the vendorId this charger understands (others get UnknownVendorId).
    data_transfer_vendor: str = "voltbridge"
    # Seed of the per-charger random source used for jitter and tag choice (None: the station id).
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.connectors < 1:
            raise ValueError(f"connectors must be at least 1, got {self.connectors}")
        if self.phases not in (1, 2, 3):
            raise ValueError(f"phases must be 1, 2 or 3, got {self.phases}")
        if self.max_power_w <= 0 or self.voltage_v <= 0 or self.battery_capacity_wh <= 0:
            raise ValueError("max_power_w, voltage_v and battery_capacity_wh must be positive")
        if self.meter_interval < 0 or self.heartbeat_interval < 0:
            raise ValueError("meter_interval and heartbeat_interval must not be negative (0 turns them off)")
        if self.session_duration is not None and self.session_duration <= 0:
            raise ValueError("session_duration must be positive, or None for sessions that run until stopped")
        if self.idle_duration < 0 or not 0 <= self.jitter < 1:
            raise ValueError("idle_duration must not be negative and jitter must be in [0, 1)")
        if not self.id_tags:
            raise ValueError("id_tags needs at least one tag")
        if not 0 <= self.initial_soc_percent <= 100:
            raise ValueError(f"initial_soc_percent must be in [0, 100], got {self.initial_soc_percent}")
        if self.reconnect_min_delay < 0 or self.reconnect_max_delay < self.reconnect_min_delay:
            raise ValueError("reconnect delays must satisfy 0 <= reconnect_min_delay <= reconnect_max_delay")


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """A fleet of simulated chargers against one backend URL.

    Station ids are ``f"{prefix}{n:04d}"`` for n = first_number … first_number + stations - 1.
    In ``"sessions"`` mode the chargers behave like a site in use (``charger`` says how) until
    ``duration`` passes or the run is cancelled. In ``"load"`` mode every charger, once booted,
    sends MeterValues (and every ``load_heartbeat_every``-th call a Heartbeat) back-to-back for
    ``duration`` seconds, recording how long each answer took.
    """

    url: str
    stations: int
    prefix: str = "SIM"
    first_number: int = 1
    password: str | None = None
    ssl: ssl.SSLContext | None = None
    charger: ChargerConfig = field(default_factory=ChargerConfig)
    duration: float | None = None
    mode: FleetMode = "sessions"
    # New connections per second while the fleet comes up (None: all at once).
    connect_rate: float | None = 50.0
    load_heartbeat_every: int = 10
    # How long a load run waits for the fleet to boot before its clock starts.
    boot_timeout: float = 60.0
    refresh_interval: float = 0.5

    def __post_init__(self) -> None:
        if self.stations < 1:
            raise ValueError(f"stations must be at least 1, got {self.stations}")
        if self.duration is not None and self.duration <= 0:
            raise ValueError(f"duration must be positive, got {self.duration}")
        if self.mode == "load" and self.duration is None:
            raise ValueError("load mode needs a duration: the time budget of the benchmark")
        if self.connect_rate is not None and self.connect_rate <= 0:
            raise ValueError(f"connect_rate must be positive or None, got {self.connect_rate}")
        if self.load_heartbeat_every < 0:
            raise ValueError("load_heartbeat_every must not be negative (0: MeterValues only)")
        if not self.url.startswith(("ws://", "wss://")):
            raise ValueError(f"url must start with ws:// or wss://, got {self.url!r}")
        if self.ssl is not None and not self.url.startswith("wss://"):
            raise ValueError("an ssl context needs a wss:// url")

    def station_ids(self) -> list[str]:
        """The station ids of this fleet, in start order."""
        return [f"{self.prefix}{n:04d}" for n in range(self.first_number, self.first_number + self.stations)]

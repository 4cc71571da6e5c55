"""Settings: the only module that reads the environment (VOLTBRIDGE_*) or a TOML file."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from voltbridge.core.authorization import Fallback
from voltbridge.core.stations.service import UnknownStationPolicy


class Settings(BaseSettings):
    """Every setting of a voltbridge process, typed, with the defaults of INTERFACES.md."""

    model_config = SettingsConfigDict(env_prefix="VOLTBRIDGE_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/voltbridge.db"
    host: str = "0.0.0.0"
    ocpp_port: int = 9000
    http_port: int = 8000
    ocpp_tls_port: int = 9443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    bus_url: str = ""
    admin_token: str = ""
    unknown_stations: UnknownStationPolicy = UnknownStationPolicy.PENDING

    heartbeat_interval: int = Field(default=300, ge=10, description="seconds, sent in BootNotification")
    pending_retry_interval: int = Field(default=60, ge=5, description="seconds, for Pending boots")
    command_timeout: float = Field(default=30.0, gt=0, description="seconds a charger has to answer")
    ping_interval: float | None = Field(default=60.0, description="WebSocket ping interval (None: off)")
    meter_batch_rows: int = Field(default=2000, ge=1, description="most meter rows in one group commit")
    authority_timeout: float = Field(default=5.0, gt=0, description="seconds to wait on a Billing upstream")
    authority_fallback: Fallback = Fallback.LOCAL
    node_id: str = "local"
    bus_namespace: str = Field(
        default="vb", description="NATS subject prefix; one per cluster on a shared NATS"
    )

    billing_currency: str = Field(default="EUR", min_length=3, max_length=3, description="of unpriced CDRs")
    billing_running_cost_interval: float = Field(
        default=15.0, ge=0, description="seconds between re-pricings"
    )
    billing_ere_renewable_share: dict[int, Decimal] = Field(
        default_factory=dict, description="renewable share per delivery year, e.g. {2025: 0.2557}"
    )
    billing_ere_emission_factor_g_per_mj: Decimal = Decimal(183)
    billing_ere_mj_per_kwh: Decimal = Decimal("3.6")

    ocpi_country_code: str = Field(default="NL", min_length=2, max_length=2)
    ocpi_party_id: str = Field(default="VBR", min_length=3, max_length=3)
    ocpi_business_name: str = "voltbridge"
    ocpi_base_url: str | None = Field(
        default=None, description="public URL of /ocpi (default: from requests)"
    )

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: object) -> Settings:
        """Settings from the environment, then a TOML file (its keys are the names without prefix)."""
        values: dict[str, object] = {}
        if config_file is not None:
            with config_file.open("rb") as f:
                values = {k.lower(): v for k, v in tomllib.load(f).items()}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

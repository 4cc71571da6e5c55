"""What the OCPI side of voltbridge needs to know about itself (our party) and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class OfflinePolicy(StrEnum):
    """What a charger is told when the eMSP does not answer a real-time authorization in time.

    `whitelist` follows the Token's whitelist type: ALWAYS/ALLOWED/ALLOWED_OFFLINE tokens that are
    valid in our cache are accepted, NEVER tokens are refused. `reject` refuses every such token.
    """

    WHITELIST = "whitelist"
    REJECT = "reject"


@dataclass
class OcpiOptions:
    """Our party and the knobs of the OCPI module (settings feed it; tests build it directly)."""

    country_code: str = "NL"
    party_id: str = "VBR"
    business_name: str = "voltbridge"
    website: str | None = None
    currency: str = "EUR"
    # Where partners reach our /ocpi (e.g. https://cpo.example.com/ocpi); None: taken from each request,
    # or from the HTTP port once the server is up.
    base_url: str | None = None
    page_limit: int = 100  # the most objects one GET-list page returns (reported in X-Limit)
    realtime_auth_timeout: float = 3.0  # seconds a driver waits at the charger for the eMSP's answer
    offline_policy: OfflinePolicy = OfflinePolicy.WHITELIST
    command_timeout: int = 30  # seconds, in CommandResponse.timeout; also the charger's answer timeout
    http_timeout: float = 10.0
    push_retry_base: float = 2.0  # seconds; doubled per attempt
    push_retry_max: float = 600.0
    push_max_attempts: int = 12
    push_interval: float = 1.0  # how often the outbox looks for due pushes when not woken
    pending_start_ttl: int = 300  # seconds a START_SESSION waits for the charger's StartTransaction
    session_update_interval: float = 60.0  # seconds between PATCHes of a running session's kwh/cost
    default_time_zone: str = "Europe/Amsterdam"
    default_country: str = "NLD"
    versions: tuple[str, ...] = field(default=("2.2.1", "2.1.1"))

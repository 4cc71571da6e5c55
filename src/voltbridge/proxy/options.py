"""The multiplexer's tunables, one typed object passed down (STYLE.md 11)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProxyOptions:
    """Timeouts, backoff and bounds of every leg."""

    call_timeout: float = 30.0  # seconds an upstream has to answer a message; then the leg reconnects
    command_timeout: float = 30.0  # seconds the charger has to answer an upstream's command
    connect_timeout: float = 10.0
    ping_interval: float | None = 30.0
    backoff_base: float = 1.0  # first reconnect delay; doubles per failed attempt …
    backoff_max: float = 60.0  # … up to this
    queue_limit: int = 1000  # messages of other kinds held per leg while it is down (oldest dropped)
    log_size: int = 200  # recent frames kept per leg for the API
    max_commands: int = 16  # an upstream's commands waiting for the charger at once; more are refused
    attempts: int = 3  # sends of a non-durable message before it is dropped
    random: random.Random = field(default_factory=random.Random)  # the backoff's jitter

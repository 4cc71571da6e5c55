"""The seam between the gateway and the multiplexer (proxy/): what the gateway tells it, and when."""

from __future__ import annotations

from typing import Any, Protocol

from voltbridge.bus import CallHandler


class ChargerTraffic(Protocol):
    """Observes every charger connection and every CALL the charger sends.

    Implementations must be fast and must never raise into the gateway: the charger never waits on
    an upstream. `answered` is awaited before the answer goes to the charger, so a durable record can
    be written first; anything slow is queued, not awaited.
    """

    async def connected(self, station_id: str, ocpp_version: str, send: CallHandler) -> None: ...

    async def disconnected(self, station_id: str) -> None: ...

    async def answered(
        self, station_id: str, action: str, request: dict[str, Any], response: dict[str, Any]
    ) -> None: ...


class NoTraffic:
    """The default observer: nobody else listens."""

    async def connected(self, station_id: str, ocpp_version: str, send: CallHandler) -> None:
        return None

    async def disconnected(self, station_id: str) -> None:
        return None

    async def answered(
        self, station_id: str, action: str, request: dict[str, Any], response: dict[str, Any]
    ) -> None:
        return None

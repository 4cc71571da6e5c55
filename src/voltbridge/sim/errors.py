"""Errors the simulator raises on purpose.

    SimError
    ├── BackendRefused the backend refused the WebSocket (HTTP status, or no ocpp1.6 subprotocol)
    ├── NotConnected   a message was to be sent while the charger has no open connection
    └── CallFailed     the backend answered a CALL with a CALLERROR, or not within the timeout

The simulator lives outside the domain (it may import only the ``ocpp`` package), so these are not the
``core.errors`` classes: they describe what happened on the wire from the charger's side.
"""

from __future__ import annotations


class SimError(Exception):
    """Base of every error the simulator raises on purpose."""


class BackendRefused(SimError):
    """Raised when the backend refuses the WebSocket: an HTTP error status, or no ``ocpp1.6``."""

    def __init__(self, station_id: str, reason: str) -> None:
        super().__init__(f"{station_id}: the backend refused the connection: {reason}")
        self.station_id = station_id
        self.reason = reason


class NotConnected(SimError):
    """Raised when a charger has to send a message but holds no connection to the backend."""

    def __init__(self, station_id: str, action: str) -> None:
        super().__init__(
            f"{station_id}: not connected, {action} was not sent; it is retried after reconnecting"
        )
        self.station_id = station_id
        self.action = action


class CallFailed(SimError):
    """Raised when the backend answered a CALL with a CALLERROR or did not answer in time."""

    def __init__(self, station_id: str, action: str, reason: str) -> None:
        super().__init__(f"{station_id}: {action} failed: {reason}")
        self.station_id = station_id
        self.action = action
        self.reason = reason

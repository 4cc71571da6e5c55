"""Domain errors. Every edge maps them in one table (HTTP status, OCPP CALLERROR, OCPI status).

VoltbridgeError
├── NotFound            a thing the caller named does not exist (or is outside the caller's scope)
├── Conflict            the request contradicts current state (duplicate, immutable field, referenced)
├── Forbidden           the caller may see the thing but not do this to it
├── InvalidInput        the request is malformed or violates a rule
└── StationError        a command to a charger did not get an answer
    ├── StationOffline  no socket for that charger is open anywhere
    ├── StationTimeout  the charger did not answer in time
    └── StationRejected the charger answered with a CALLERROR
"""

from __future__ import annotations


class VoltbridgeError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFound(VoltbridgeError):
    """Raised when a named thing does not exist or is outside the caller's scope."""


class Conflict(VoltbridgeError):
    """Raised when a request contradicts the current state (duplicates, immutable fields, references)."""


class Forbidden(VoltbridgeError):
    """Raised when the caller may not perform this action on a thing it can see."""


class InvalidInput(VoltbridgeError):
    """Raised when a request is malformed or breaks a rule."""


class StationError(VoltbridgeError):
    """Base for commands to a charger that got no usable answer."""

    def __init__(self, station_id: str, action: str, message: str) -> None:
        super().__init__(message)
        self.station_id = station_id
        self.action = action


class StationOffline(StationError):
    """Raised when a command is sent to a charger that has no open socket."""

    def __init__(self, station_id: str, action: str) -> None:
        super().__init__(
            station_id, action, f"station {station_id!r} is not connected; {action} was not sent"
        )


class StationTimeout(StationError):
    """Raised when a charger did not answer a command within its timeout."""

    def __init__(self, station_id: str, action: str, timeout: float) -> None:
        super().__init__(
            station_id, action, f"station {station_id!r} did not answer {action} within {timeout:g} s"
        )
        self.timeout = timeout


class StationBusy(StationError):
    """Raised when too many commands already wait for the charger's one CALL in flight."""

    def __init__(self, station_id: str, action: str) -> None:
        super().__init__(
            station_id, action, f"station {station_id!r} has too many commands waiting; retry later"
        )


class StationRejected(StationError):
    """Raised when a charger answered a command with a CALLERROR."""

    def __init__(self, station_id: str, action: str, code: str, description: str) -> None:
        super().__init__(
            station_id, action, f"station {station_id!r} answered {action} with {code}: {description}"
        )
        self.code = code
        self.description = description

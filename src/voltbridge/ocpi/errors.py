"""OCPI status codes and the errors that carry them, plus the one table from domain errors to OCPI.

OcpiError                       an answer with an OCPI status code (and the HTTP status to use)
├── Unauthorized                401: no token, an unknown token, or token A outside registration
├── MethodNotAllowed            405: credentials POST when registered, PUT/DELETE when not
├── ClientError (2000)          the partner sent something we cannot process
│   ├── InvalidParameters (2001)
│   ├── NotEnoughInformation (2002)
│   ├── UnknownLocation (2003)
│   └── UnknownToken (2004)
├── ServerError (3000)          we failed
│   ├── ClientApiUnusable (3001)     the partner's versions/endpoints could not be used
│   ├── UnsupportedVersion (3002)
│   └── NoMatchingEndpoints (3003)
└── HubError (4000..4003)
PartnerCallFailed               a call we made to a partner failed (transport, HTTP or OCPI status)
"""

from __future__ import annotations

from voltbridge.core.errors import Conflict, Forbidden, InvalidInput, NotFound, StationError

SUCCESS = 1000
GENERIC_CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
GENERIC_SERVER_ERROR = 3000
CLIENT_API_UNUSABLE = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003
HUB_GENERIC = 4000
HUB_UNKNOWN_RECEIVER = 4001
HUB_TIMEOUT = 4002
HUB_CONNECTION_PROBLEM = 4003


class OcpiError(Exception):
    """An OCPI answer that is not a success: its OCPI status code, HTTP status and message."""

    status_code: int = GENERIC_SERVER_ERROR
    http_status: int = 200

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if http_status is not None:
            self.http_status = http_status


class Unauthorized(OcpiError):
    """Raised when the Authorization header is missing, unknown, or token A is used past registration."""

    status_code = GENERIC_CLIENT_ERROR
    http_status = 401


class MethodNotAllowed(OcpiError):
    """Raised for a credentials POST by a registered partner, or a PUT/DELETE by one that is not."""

    status_code = GENERIC_CLIENT_ERROR
    http_status = 405


class ClientError(OcpiError):
    """Raised when the partner sent something we cannot process (2000)."""

    status_code = GENERIC_CLIENT_ERROR
    http_status = 400


class InvalidParameters(ClientError):
    """Raised for missing or invalid parameters, or an object whose id differs from the URL (2001)."""

    status_code = INVALID_PARAMETERS


class NotEnoughInformation(ClientError):
    """Raised when the request lacks information we need to answer (2002)."""

    status_code = NOT_ENOUGH_INFORMATION


class UnknownLocation(ClientError):
    """Raised when a command names a Location, EVSE or connector we do not have (2003)."""

    status_code = UNKNOWN_LOCATION
    http_status = 404


class UnknownToken(ClientError):
    """Raised when a Token is unknown (2004)."""

    status_code = UNKNOWN_TOKEN
    http_status = 404


class ServerError(OcpiError):
    """Raised when we failed to do what was asked (3000)."""

    status_code = GENERIC_SERVER_ERROR
    http_status = 500


class ClientApiUnusable(ServerError):
    """Raised during registration when the partner's versions or endpoints could not be fetched (3001)."""

    status_code = CLIENT_API_UNUSABLE
    http_status = 200


class UnsupportedVersion(ServerError):
    """Raised when the partner and we share no version (3002)."""

    status_code = UNSUPPORTED_VERSION
    http_status = 200


class NoMatchingEndpoints(ServerError):
    """Raised when the partner lacks endpoints we need (3003)."""

    status_code = NO_MATCHING_ENDPOINTS
    http_status = 200


class HubError(OcpiError):
    """Raised for hub routing problems (4000-4003)."""

    status_code = HUB_GENERIC


class PartnerCallFailed(Exception):
    """Raised when a call to a partner failed: no connection, an HTTP error, or an OCPI error status.

    `transient` says whether trying again later may help (connection problems, 5xx, 3xxx); a 4xx or a
    2xxx means the partner refused what we sent, and repeating it unchanged will not help.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        ocpi_status: int | None = None,
        transient: bool = True,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.ocpi_status = ocpi_status
        self.transient = transient


def from_domain(exc: Exception) -> OcpiError:
    """The OCPI answer for a domain error; anything unexpected becomes a generic 3000."""
    if isinstance(exc, OcpiError):
        return exc
    if isinstance(exc, NotFound):
        return ClientError(str(exc), http_status=404)
    if isinstance(exc, InvalidInput):
        return InvalidParameters(str(exc))
    if isinstance(exc, Conflict | Forbidden):
        return ClientError(str(exc))
    if isinstance(exc, StationError):
        return ServerError(str(exc))
    return ServerError("internal error; it has been logged")

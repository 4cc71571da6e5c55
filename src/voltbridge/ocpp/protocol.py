"""The version-neutral vocabulary of OCPP-J: protocol versions, CALLERROR codes and their errors.

    VoltbridgeError (core)
    └── InvalidInput (core)
        └── OcppError           a message we refuse; carries the CALLERROR code in the version's spelling
            ├── FrameError      the text is not a valid OCPP-J RPC frame (frames.py)
            └── ValidationFailed the payload breaks its action's JSON schema (validation.py)

Codes are chosen by `ErrorKind`, which names what went wrong independently of the version;
`error_code` spells it for the wire. The two versions differ in three ways:

- OCPP-J 1.6 §4.2.3 spells two codes wrongly, and its errata sheet (§5.1, §5.2) keeps the typos:
  ``FormationViolation`` and ``OccurenceConstraintViolation``. OCPP 2.0.1 Part 4 §4.3 spells them
  ``FormatViolation`` and ``OccurrenceConstraintViolation``.
- 2.0.1 adds ``RpcFrameworkError`` (the frame is not a valid RPC message) and
  ``MessageTypeNotSupported``. 1.6 has neither; there they are sent as ``ProtocolError``.
- 2.0.1 splits 1.6's FormationViolation ("syntactically incorrect or not conform the PDU structure")
  into FormatViolation ("syntactically incorrect") and ProtocolError ("not conform the PDU
  structure"); see `ErrorKind.PDU_STRUCTURE`.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from voltbridge.core.errors import InvalidInput

__all__ = ["ErrorKind", "OcppError", "OcppVersion", "error_code", "error_kind"]

# Both versions limit ErrorDescription to 255 characters (2.0.1 Part 4 Table 7 says string[255]).
MAX_DESCRIPTION = 255


class OcppVersion(StrEnum):
    """An OCPP-J version we speak; the value is its WebSocket subprotocol name."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"


class ErrorKind(Enum):
    """What went wrong with a message, whatever the version calls it on the wire."""

    NOT_IMPLEMENTED = "NotImplemented"  # the action is not known to the receiver
    NOT_SUPPORTED = "NotSupported"  # the action is known but not supported (e.g. wrong direction)
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"  # 1.6: "payload for action is incomplete"
    SECURITY_ERROR = "SecurityError"
    FORMAT_VIOLATION = "FormatViolation"  # the text is not JSON
    PDU_STRUCTURE = "PduStructure"  # the payload has a field its action does not define
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"  # a field has an invalid value
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"  # missing field, too few/many items
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"  # a field has the wrong JSON type
    GENERIC_ERROR = "GenericError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"  # valid JSON, but not an RPC frame
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"  # MessageTypeId is not 2, 3 or 4


_CODES: dict[OcppVersion, dict[ErrorKind, str]] = {
    OcppVersion.V16: {
        ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
        ErrorKind.NOT_SUPPORTED: "NotSupported",
        ErrorKind.INTERNAL_ERROR: "InternalError",
        ErrorKind.PROTOCOL_ERROR: "ProtocolError",
        ErrorKind.SECURITY_ERROR: "SecurityError",
        ErrorKind.FORMAT_VIOLATION: "FormationViolation",  # sic, OCPP-J 1.6 §4.2.3
        ErrorKind.PDU_STRUCTURE: "FormationViolation",  # "... or not conform the PDU structure"
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
        ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",  # sic
        ErrorKind.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
        ErrorKind.GENERIC_ERROR: "GenericError",
        ErrorKind.RPC_FRAMEWORK_ERROR: "ProtocolError",  # 1.6 has no RpcFrameworkError
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "ProtocolError",  # nor MessageTypeNotSupported
    },
    OcppVersion.V201: {
        ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
        ErrorKind.NOT_SUPPORTED: "NotSupported",
        ErrorKind.INTERNAL_ERROR: "InternalError",
        ErrorKind.PROTOCOL_ERROR: "ProtocolError",
        ErrorKind.SECURITY_ERROR: "SecurityError",
        ErrorKind.FORMAT_VIOLATION: "FormatViolation",
        ErrorKind.PDU_STRUCTURE: "ProtocolError",  # "payload for action is not conform the PDU structure"
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
        ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurrenceConstraintViolation",
        ErrorKind.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
        ErrorKind.GENERIC_ERROR: "GenericError",
        ErrorKind.RPC_FRAMEWORK_ERROR: "RpcFrameworkError",
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "MessageTypeNotSupported",
    },
}

# Reading a peer's CALLERROR: each version's codes, plus the other version's spelling of the same
# thing, since chargers mix them up. Codes shared by several kinds read as the plainest kind.
_KINDS: dict[str, ErrorKind] = {
    "FormationViolation": ErrorKind.FORMAT_VIOLATION,
    "OccurenceConstraintViolation": ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    **{kind.value: kind for kind in ErrorKind if kind is not ErrorKind.PDU_STRUCTURE},
}


def error_code(kind: ErrorKind, version: OcppVersion) -> str:
    """Spell `kind` as the CALLERROR ErrorCode of `version`."""
    return _CODES[version][kind]


def error_kind(code: str) -> ErrorKind | None:
    """Read a CALLERROR ErrorCode a peer sent (either version's spelling); None if it is no OCPP code."""
    return _KINDS.get(code)


class OcppError(InvalidInput):
    """Raised for a message we refuse; `code` is the CALLERROR ErrorCode to answer with.

    `description` is safe to send (it never holds internals) and at most 255 characters.
    """

    def __init__(
        self,
        kind: ErrorKind,
        version: OcppVersion,
        description: str,
        details: dict[str, object] | None = None,
    ) -> None:
        description = description[:MAX_DESCRIPTION]
        super().__init__(description)
        self.kind = kind
        self.version = version
        self.code = error_code(kind, version)
        self.description = description
        self.details: dict[str, object] = {} if details is None else details

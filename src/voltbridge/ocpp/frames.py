"""The OCPP-J RPC frame codec, the same for every OCPP version.

A frame is a JSON array (OCPP-J 1.6 §4, OCPP 2.0.1 Part 4 §4):

    [2, "<MessageId>", "<Action>", {<Payload>}]                          CALL
    [3, "<MessageId>", {<Payload>}]                                      CALLRESULT
    [4, "<MessageId>", "<ErrorCode>", "<ErrorDescription>", {<Details>}] CALLERROR

`decode` turns text into a `Frame` or raises `FrameError`, which carries the CALLERROR to answer
with and the message id whenever one can be read, even from text that is not JSON. `FrameError.reply`
says whether to answer at all. Payloads are not checked against their action's schema here; that is
`validation.Validators`.

JSON is read and written with orjson: it reads a MeterValues frame 1.5-2.5x and writes one about 8x
as fast as the stdlib (bench/codec.py), and it rejects what OCPP-J forbids and the stdlib accepts:
NaN and Infinity, lone UTF-16 surrogates (which could not be written back to the charger or to a
database), and nesting deep enough to exhaust the stack. (It reads integers beyond 64 bits as floats;
no OCPP field holds one, and the schemas refuse a float where an integer is due.)
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

import orjson

from voltbridge.ocpp.protocol import MAX_DESCRIPTION, ErrorKind, OcppError, OcppVersion, error_code

__all__ = [
    "Call",
    "CallError",
    "CallResult",
    "Frame",
    "FrameError",
    "IdSource",
    "MessageType",
    "OcppVersion",
    "UniqueIds",
    "decode",
    "encode",
    "error_code",
    "new_unique_id",
]

# MessageId is string[36] in both versions (2.0.1 Part 4 Table 5; a UUID fits exactly).
MAX_UNIQUE_ID = 36

# 2.0.1 Part 4 §4.2.3: "When also the MessageId cannot be read, the CALLERROR SHALL contain "-1"
# as MessageId." 1.6 says nothing, so there an unreadable frame gets no answer.
UNREADABLE_ID_201 = "-1"


class MessageType(IntEnum):
    """The MessageTypeId, the first element of every frame."""

    CALL = 2
    CALL_RESULT = 3
    CALL_ERROR = 4


@dataclass(frozen=True, slots=True)
class Call:
    """A request: the sender wants the receiver to perform `action`."""

    unique_id: str
    action: str
    payload: dict[str, object]


@dataclass(frozen=True, slots=True)
class CallResult:
    """The answer to the CALL with the same `unique_id`; its action is known only to the caller."""

    unique_id: str
    payload: dict[str, object]


@dataclass(frozen=True, slots=True)
class CallError:
    """The CALL with the same `unique_id` could not be handled; `code` is an RPC framework error code."""

    unique_id: str
    code: str
    description: str
    details: dict[str, object]


Frame = Call | CallResult | CallError


class FrameError(OcppError):
    """Raised by `decode` for text that is not a valid OCPP-J frame.

    `unique_id` is the frame's MessageId when one could be read (also from broken JSON such as a
    truncated frame), else None. `message_type` is its MessageTypeId when that could be read as an
    integer. Use `reply` to get the CALLERROR to send, if any.
    """

    def __init__(
        self,
        kind: ErrorKind,
        version: OcppVersion,
        description: str,
        *,
        unique_id: str | None,
        message_type: int | None,
    ) -> None:
        super().__init__(kind, version, description)
        self.unique_id = unique_id
        self.message_type = message_type

    def reply(self) -> CallError | None:
        """The CALLERROR to answer with, or None when nothing may be answered.

        A broken CALLRESULT or CALLERROR gets no answer: a CALLERROR answers only a CALL, and two
        peers answering each other's errors would loop. The caller should fail its pending CALL with
        this `unique_id` instead. A frame whose MessageId cannot be read is answered with "-1" in
        2.0.1 and not at all in 1.6.
        """
        if self.message_type in (MessageType.CALL_RESULT, MessageType.CALL_ERROR):
            return None
        unique_id = self.unique_id
        if unique_id is None:
            if self.version is not OcppVersion.V201:
                return None
            unique_id = UNREADABLE_ID_201
        return CallError(unique_id, self.code, self.description, {})


# The start of a frame, to read its type and MessageId from text that is not valid JSON. Ids with
# escapes (or bytes that are not UTF-8) are left alone: we cannot be sure what the sender meant.
_START = r'\s*\[\s*(\d{1,3})\s*,\s*"([^"\\\x00-\x1f%s]{0,%d})"'
_FRAME_START_TEXT = re.compile(_START % (r"\ud800-\udfff", MAX_UNIQUE_ID))
_FRAME_START_BYTES = re.compile((_START % ("", 4 * MAX_UNIQUE_ID)).encode())


def _salvage(data: str | bytes) -> tuple[int | None, str | None]:
    if isinstance(data, str):
        text_match = _FRAME_START_TEXT.match(data, 0, 400)
        return (None, None) if text_match is None else (int(text_match[1]), text_match[2])
    bytes_match = _FRAME_START_BYTES.match(data, 0, 400)
    if bytes_match is None:
        return None, None
    try:
        unique_id = bytes_match[2].decode()
    except UnicodeDecodeError:
        return int(bytes_match[1]), None
    return int(bytes_match[1]), unique_id if len(unique_id) <= MAX_UNIQUE_ID else None


_ARITY: dict[int, int] = {MessageType.CALL: 4, MessageType.CALL_RESULT: 3, MessageType.CALL_ERROR: 5}


def decode(data: str | bytes, version: OcppVersion) -> Frame:
    """Read one OCPP-J frame (a WebSocket text message) sent by a peer speaking `version`.

    Raises `FrameError` with the code to answer: FormatViolation (1.6: FormationViolation) for text
    that is not JSON; RpcFrameworkError (1.6: ProtocolError) for JSON that is not a frame;
    MessageTypeNotSupported (1.6: ProtocolError) for a MessageTypeId other than 2, 3 or 4.
    """
    try:
        msg: object = orjson.loads(data)
    except orjson.JSONDecodeError:
        message_type, unique_id = _salvage(data)
        raise FrameError(
            ErrorKind.FORMAT_VIOLATION,
            version,
            "the message is not valid JSON (UTF-8, no NaN or Infinity)",
            unique_id=unique_id,
            message_type=message_type,
        ) from None

    # The fast path: one pass of plain checks for a well-formed frame. Anything else is diagnosed by
    # _refusal, which names the first rule the frame breaks.
    if type(msg) is list and len(msg) >= 3:
        message_type, unique_id = msg[0], msg[1]
        if type(message_type) is int and type(unique_id) is str and 0 < len(unique_id) <= MAX_UNIQUE_ID:
            if message_type == 2 and len(msg) == 4:  # CALL
                action, payload = msg[2], msg[3]
                if type(action) is str and action and type(payload) is dict:
                    return Call(unique_id, action, payload)
            elif message_type == 3 and len(msg) == 3:  # CALLRESULT
                payload = msg[2]
                if type(payload) is dict:
                    return CallResult(unique_id, payload)
            elif message_type == 4 and len(msg) == 5:  # CALLERROR
                code, description, details = msg[2], msg[3], msg[4]
                if type(code) is str and type(description) is str and type(details) is dict:
                    return CallError(unique_id, code, description, details)
    raise _refusal(msg, version)


def _refusal(msg: object, version: OcppVersion) -> FrameError:
    if type(msg) is not list or not msg:
        return FrameError(
            ErrorKind.RPC_FRAMEWORK_ERROR,
            version,
            "an OCPP-J message is a JSON array that starts with its MessageTypeId",
            unique_id=None,
            message_type=None,
        )
    raw_type = msg[0]
    message_type = raw_type if type(raw_type) is int else None
    unique_id = msg[1] if len(msg) > 1 and type(msg[1]) is str else None

    def fail(kind: ErrorKind, description: str) -> FrameError:
        return FrameError(kind, version, description, unique_id=unique_id, message_type=message_type)

    if message_type is None:
        return fail(ErrorKind.RPC_FRAMEWORK_ERROR, "the MessageTypeId (first element) must be an integer")
    if unique_id is None:
        return fail(ErrorKind.RPC_FRAMEWORK_ERROR, "the MessageId (second element) must be a string")
    if not 0 < len(unique_id) <= MAX_UNIQUE_ID:
        return fail(ErrorKind.RPC_FRAMEWORK_ERROR, f"the MessageId must be 1 to {MAX_UNIQUE_ID} characters")
    arity = _ARITY.get(message_type)
    if arity is None:
        return fail(
            ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED,
            f"MessageTypeId {message_type} is not supported; use 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR)",
        )
    if len(msg) != arity:
        name = MessageType(message_type).name.replace("_", "")
        return fail(ErrorKind.RPC_FRAMEWORK_ERROR, f"a {name} has {arity} elements, this one has {len(msg)}")
    if message_type == MessageType.CALL:
        if type(msg[2]) is not str or not msg[2]:
            return fail(
                ErrorKind.RPC_FRAMEWORK_ERROR, "the Action (third element) must be a non-empty string"
            )
        return fail(ErrorKind.RPC_FRAMEWORK_ERROR, "the payload (fourth element) must be a JSON object")
    if message_type == MessageType.CALL_RESULT:
        return fail(ErrorKind.RPC_FRAMEWORK_ERROR, "the payload (third element) must be a JSON object")
    if type(msg[2]) is not str or type(msg[3]) is not str:
        return fail(ErrorKind.RPC_FRAMEWORK_ERROR, "the ErrorCode and ErrorDescription must be strings")
    return fail(ErrorKind.RPC_FRAMEWORK_ERROR, "the ErrorDetails (fifth element) must be a JSON object")


def _default(value: object) -> object:
    # orjson writes str, int, float, bool, None, dict, list, dataclasses, enums and datetimes itself;
    # this is called only for anything else. A Decimal becomes a JSON number (as every peer reads it).
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} cannot be written into an OCPP payload")


# Times go out as RFC 3339 with "Z" for UTC; a naive datetime is taken as UTC, the house convention.
_DUMPS_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def encode(frame: Frame) -> str:
    """Write `frame` as compact JSON text (UTF-8 characters, not escapes) for a WebSocket text message.

    A CALLERROR's description is cut to the 255 characters both versions allow.
    """
    body: list[object]
    if type(frame) is Call:
        body = [MessageType.CALL.value, frame.unique_id, frame.action, frame.payload]
    elif type(frame) is CallResult:
        body = [MessageType.CALL_RESULT.value, frame.unique_id, frame.payload]
    elif type(frame) is CallError:
        description = frame.description[:MAX_DESCRIPTION]
        body = [MessageType.CALL_ERROR.value, frame.unique_id, frame.code, description, frame.details]
    else:
        raise TypeError(f"not an OCPP-J frame: {type(frame).__name__}")
    return orjson.dumps(body, default=_default, option=_DUMPS_OPTIONS).decode()


IdSource = Callable[[], str]
"""Where a connection takes the MessageIds of its outgoing CALLs; inject one in tests."""


class UniqueIds:
    """MessageIds for our CALLs: a per-process prefix and a counter, e.g. ``"9f3a1c-17"``.

    The counter makes ids unique within the process; the random prefix keeps them apart across
    restarts, so a charger holding a pending id from before a restart never sees it reused.
    """

    def __init__(self, prefix: str | None = None, start: int = 1) -> None:
        self._prefix = f"{secrets.token_hex(3)}-" if prefix is None else prefix
        self._counter = itertools.count(start)

    def __call__(self) -> str:
        """The next MessageId."""
        return f"{self._prefix}{next(self._counter)}"


_process_ids = UniqueIds()


def new_unique_id() -> str:
    """A fresh MessageId for an outgoing CALL, from the process-wide `UniqueIds`."""
    return _process_ids()

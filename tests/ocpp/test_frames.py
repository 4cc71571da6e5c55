"""The OCPP-J frame codec: what it accepts, what it answers to what it refuses, and what it writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voltbridge.core.errors import InvalidInput
from voltbridge.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    Frame,
    FrameError,
    MessageType,
    OcppVersion,
    UniqueIds,
    decode,
    encode,
    error_code,
    new_unique_id,
)
from voltbridge.ocpp.protocol import ErrorKind, error_kind

V16, V201 = OcppVersion.V16, OcppVersion.V201
BOTH = pytest.mark.parametrize("version", [V16, V201])


@BOTH
def test_decodes_the_three_message_types(version: OcppVersion) -> None:
    assert decode('[2,"19223201","BootNotification",{"a":1}]', version) == Call(
        "19223201", "BootNotification", {"a": 1}
    )
    assert decode(' [3, "19223201", {"status": "Accepted"}] ', version) == CallResult(
        "19223201", {"status": "Accepted"}
    )
    assert decode('[4,"1","NotSupported","no",{"x":[1]}]', version) == CallError(
        "1", "NotSupported", "no", {"x": [1]}
    )


@BOTH
def test_decodes_utf8_bytes_like_text(version: OcppVersion) -> None:
    text = '[2,"é1","DataTransfer",{"vendorId":"Ünïcode ⚡"}]'
    assert decode(text.encode(), version) == decode(text, version)


def test_the_subprotocol_is_the_version_value() -> None:
    assert OcppVersion("ocpp1.6") is V16
    assert OcppVersion("ocpp2.0.1") is V201
    assert [int(t) for t in (MessageType.CALL, MessageType.CALL_RESULT, MessageType.CALL_ERROR)] == [2, 3, 4]


# (frame text, error kind, the MessageId the error must carry, the MessageTypeId it must carry)
REFUSED: list[tuple[str | bytes, ErrorKind, str | None, int | None]] = [
    ("", ErrorKind.FORMAT_VIOLATION, None, None),
    ("not json", ErrorKind.FORMAT_VIOLATION, None, None),
    ('[2,"abc","Heartbeat",{', ErrorKind.FORMAT_VIOLATION, "abc", 2),  # truncated: id still read
    ('[2,"abc","Heartbeat",{}] trailing', ErrorKind.FORMAT_VIOLATION, "abc", 2),
    ('[2,"abc","MeterValues",{"v":NaN}]', ErrorKind.FORMAT_VIOLATION, "abc", 2),
    ('[2,"abc","X",{"v":"\\ud800"}]', ErrorKind.FORMAT_VIOLATION, "abc", 2),  # lone surrogate
    (b'[2,"abc","X",{"v":"\xff"}]', ErrorKind.FORMAT_VIOLATION, "abc", 2),  # not UTF-8
    (b'[2,"\xff","X",{}]', ErrorKind.FORMAT_VIOLATION, None, 2),  # an id we cannot read exactly
    ('[2,"a\\"b","X",{]', ErrorKind.FORMAT_VIOLATION, None, None),
    ("[" * 5000 + "]" * 5000, ErrorKind.FORMAT_VIOLATION, None, None),
    ("{}", ErrorKind.RPC_FRAMEWORK_ERROR, None, None),
    ('"text"', ErrorKind.RPC_FRAMEWORK_ERROR, None, None),
    ("[]", ErrorKind.RPC_FRAMEWORK_ERROR, None, None),
    ("[2]", ErrorKind.RPC_FRAMEWORK_ERROR, None, 2),
    ('[2,17,"Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, None, 2),
    ('["2","id","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", None),
    ('[2.0,"id","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", None),
    ('[true,"id","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", None),
    ('[2,"","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "", 2),
    ('[2,"' + "x" * 37 + '","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "x" * 37, 2),
    ('[2,"id","Heartbeat"]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 2),
    ('[2,"id","Heartbeat",{},{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 2),
    ('[2,"id",7,{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 2),
    ('[2,"id","",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 2),
    ('[2,"id","Heartbeat",null]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 2),
    ('[2,"id","Heartbeat",[]]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 2),
    ('[3,"id"]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 3),
    ('[3,"id","x"]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 3),
    ('[4,"id","InternalError","x"]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 4),
    ('[4,"id",1,"x",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 4),
    ('[4,"id","InternalError",null,{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 4),
    ('[4,"id","InternalError","x",null]', ErrorKind.RPC_FRAMEWORK_ERROR, "id", 4),
    ('[5,"id","x",{}]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "id", 5),
    ('[6,"id","NotifyPeriodicEventStream",{}]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "id", 6),
    ('[0,"id"]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "id", 0),
]


@BOTH
@pytest.mark.parametrize(("data", "kind", "unique_id", "message_type"), REFUSED)
def test_refuses_bad_frames_with_the_right_code_and_the_id_it_could_read(
    version: OcppVersion, data: str | bytes, kind: ErrorKind, unique_id: str | None, message_type: int | None
) -> None:
    with pytest.raises(FrameError) as caught:
        decode(data, version)
    error = caught.value
    assert error.kind is kind
    assert error.code == error_code(kind, version)
    assert error.unique_id == unique_id
    assert error.message_type == message_type
    assert 0 < len(error.description) <= 255
    assert isinstance(error, InvalidInput)  # the edges' one table can map it as a domain error


def test_codes_are_spelled_as_each_version_spells_them() -> None:
    assert error_code(ErrorKind.FORMAT_VIOLATION, V16) == "FormationViolation"
    assert error_code(ErrorKind.FORMAT_VIOLATION, V201) == "FormatViolation"
    assert error_code(ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION, V16) == "OccurenceConstraintViolation"
    assert error_code(ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION, V201) == "OccurrenceConstraintViolation"
    assert error_code(ErrorKind.RPC_FRAMEWORK_ERROR, V16) == "ProtocolError"
    assert error_code(ErrorKind.RPC_FRAMEWORK_ERROR, V201) == "RpcFrameworkError"
    assert error_code(ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, V16) == "ProtocolError"
    assert error_code(ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, V201) == "MessageTypeNotSupported"
    v16_codes = {error_code(kind, V16) for kind in ErrorKind}
    assert v16_codes == {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }


def test_reads_a_peers_error_code_in_either_spelling() -> None:
    assert error_kind("FormationViolation") is ErrorKind.FORMAT_VIOLATION
    assert error_kind("FormatViolation") is ErrorKind.FORMAT_VIOLATION
    assert error_kind("OccurenceConstraintViolation") is ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION
    assert error_kind("OccurrenceConstraintViolation") is ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION
    assert error_kind("NotSupported") is ErrorKind.NOT_SUPPORTED
    assert error_kind("Whatever") is None


@BOTH
def test_answers_a_bad_call_with_a_callerror_carrying_its_id(version: OcppVersion) -> None:
    with pytest.raises(FrameError) as caught:
        decode('[2,"abc","Heartbeat"]', version)
    assert caught.value.reply() == CallError("abc", caught.value.code, caught.value.description, {})


@BOTH
@pytest.mark.parametrize("data", ['[3,"abc"]', '[4,"abc","X","y"]', '[3,"abc",{'])
def test_never_answers_a_bad_callresult_or_callerror(version: OcppVersion, data: str) -> None:
    with pytest.raises(FrameError) as caught:
        decode(data, version)
    assert caught.value.unique_id == "abc"  # so the connection can fail its pending CALL
    assert caught.value.reply() is None


def test_an_unreadable_id_is_answered_with_minus_one_in_201_only() -> None:
    for data in ("garbage", '[2,1,"X",{}]', "{}"):
        with pytest.raises(FrameError) as caught16:
            decode(data, V16)
        assert caught16.value.reply() is None
        with pytest.raises(FrameError) as caught201:
            decode(data, V201)
        reply = caught201.value.reply()
        assert reply is not None and reply.unique_id == "-1"


def test_encodes_compact_json_with_unicode_characters() -> None:
    assert encode(Call("1", "DataTransfer", {"vendorId": "Ünïcode ⚡", "n": [1, 2.5]})) == (
        '[2,"1","DataTransfer",{"vendorId":"Ünïcode ⚡","n":[1,2.5]}]'
    )
    assert encode(CallResult("1", {})) == '[3,"1",{}]'
    assert encode(CallError("1", "GenericError", "", {})) == '[4,"1","GenericError","",{}]'


def test_encodes_decimals_and_utc_times_as_ocpp_expects() -> None:
    at = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    payload: dict[str, object] = {"limit": Decimal("16.5"), "wh": Decimal("1200"), "at": at}
    assert encode(CallResult("1", payload)) == '[3,"1",{"limit":16.5,"wh":1200,"at":"2024-05-01T10:00:00Z"}]'


def test_encode_cuts_an_error_description_to_255_characters() -> None:
    text = encode(CallError("1", "InternalError", "x" * 300, {}))
    assert json.loads(text)[3] == "x" * 255


def test_encode_refuses_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        encode(CallResult("1", {"x": object()}))


def test_unique_ids_come_from_an_injectable_counter() -> None:
    ids = UniqueIds(prefix="t-", start=7)
    assert [ids(), ids(), ids()] == ["t-7", "t-8", "t-9"]
    fresh = {new_unique_id() for _ in range(1000)}
    assert len(fresh) == 1000
    assert all(0 < len(unique_id) <= 36 for unique_id in fresh)
    assert UniqueIds()() != UniqueIds()()  # a restarted process does not reuse ids


# --- properties: random input only ever gives a frame or a FrameError -------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
frame_like = st.tuples(
    st.sampled_from([2, 3, 4]) | json_values,
    st.text(max_size=40) | json_values,
    st.lists(json_values | st.dictionaries(st.text(max_size=10), json_values), max_size=4),
).map(lambda parts: [parts[0], parts[1], *parts[2]])


def _decode_or_error(data: str | bytes, version: OcppVersion) -> Frame | FrameError:
    try:
        return decode(data, version)
    except FrameError as error:
        assert 0 < len(error.description) <= 255
        reply = error.reply()
        if reply is not None:
            encode(reply)  # whatever we would answer can be written
        return error


@settings(deadline=None)
@given(data=st.binary(max_size=200), version=st.sampled_from(OcppVersion))
def test_random_bytes_give_a_frame_or_a_frame_error(data: bytes, version: OcppVersion) -> None:
    _decode_or_error(data, version)


@settings(deadline=None)
@given(data=st.text(max_size=200), version=st.sampled_from(OcppVersion))
def test_random_text_gives_a_frame_or_a_frame_error(data: str, version: OcppVersion) -> None:
    _decode_or_error(data, version)


@settings(deadline=None)
@given(value=json_values, version=st.sampled_from(OcppVersion))
def test_random_json_gives_a_frame_or_a_frame_error(value: object, version: OcppVersion) -> None:
    _decode_or_error(json.dumps(value), version)


@settings(deadline=None)
@given(frame=frame_like, version=st.sampled_from(OcppVersion), as_bytes=st.booleans())
def test_a_refused_frame_with_a_readable_id_carries_that_id(
    frame: list[object], version: OcppVersion, as_bytes: bool
) -> None:
    text = json.dumps(frame, ensure_ascii=bool(len(frame) % 2))
    result = _decode_or_error(text.encode() if as_bytes else text, version)
    if isinstance(result, FrameError):
        readable = frame[1] if isinstance(frame[1], str) else None
        assert result.unique_id == readable
    else:
        assert decode(encode(result), version) == result  # what we accept, we write back the same

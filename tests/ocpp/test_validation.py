"""Compiled schema validators: every action covered, the right CALLERROR per failure, and lenient mode."""

from __future__ import annotations

import copy
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voltbridge.core.errors import InvalidInput
from voltbridge.ocpp.protocol import ErrorKind, OcppError, OcppVersion, error_code
from voltbridge.ocpp.validation import Quirk, QuirkKind, ValidationFailed, Validators

V16, V201 = OcppVersion.V16, OcppVersion.V201
Payload = dict[str, object]
AT = "2024-05-01T10:00:00Z"


def test_validators_are_built_once_per_version() -> None:
    assert Validators.for_version(V16) is Validators.for_version(V16)
    assert Validators.for_version(V16) is not Validators.for_version(V201)


@pytest.mark.parametrize(("version", "folder"), [(V16, "v16"), (V201, "v201")])
def test_every_action_of_both_versions_has_a_compiled_validator(version: OcppVersion, folder: str) -> None:
    validators = Validators.for_version(version)
    schema_files = [
        p for p in (resources.files("ocpp") / folder / "schemas").iterdir() if p.name.endswith(".json")
    ]
    assert len(validators.actions) * 2 == len(schema_files)
    assert {"BootNotification", "Heartbeat", "MeterValues", "StatusNotification"} <= validators.actions
    validators.compile_all()
    for action in validators.actions:
        assert validators.knows(action)
        for check in (validators.check_request, validators.check_response):
            try:
                check(action, {}, lenient=False)
            except ValidationFailed as error:  # {} lacks required fields of many actions
                assert error.kind is not ErrorKind.NOT_IMPLEMENTED


def test_the_version_decides_which_actions_exist() -> None:
    assert Validators.for_version(V16).knows("StartTransaction")
    assert not Validators.for_version(V201).knows("StartTransaction")
    assert Validators.for_version(V201).knows("TransactionEvent")
    assert not Validators.for_version(V16).knows("TransactionEvent")
    assert not Validators.for_version(V16).knows("BootNotificationRequest")


VALID_REQUESTS: list[tuple[OcppVersion, str, Payload]] = [
    (V16, "BootNotification", {"chargePointVendor": "Vendor", "chargePointModel": "Model"}),
    (V16, "Heartbeat", {}),
    (V16, "Authorize", {"idTag": "04A1B2C3"}),
    (V16, "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
    (V16, "StartTransaction", {"connectorId": 1, "idTag": "04A1B2C3", "meterStart": 0, "timestamp": AT}),
    (V16, "StopTransaction", {"transactionId": 7, "meterStop": 1200, "timestamp": AT, "reason": "Local"}),
    (
        V16,
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 7,
            "meterValue": [
                {
                    "timestamp": AT,
                    "sampledValue": [
                        {"value": "1200.5", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                        {
                            "value": "230",
                            "measurand": "Voltage",
                            "phase": "L1-N",
                            "context": "Sample.Periodic",
                        },
                    ],
                }
            ],
        },
    ),
    (
        V16,
        "SetChargingProfile",  # limit has multipleOf 0.1, which 21.4 meets only when checked in decimal
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
                },
            },
        },
    ),
    (
        V201,
        "BootNotification",
        {
            "reason": "PowerUp",
            "chargingStation": {"model": "Model", "vendorName": "Vendor", "serialNumber": "S1"},
        },
    ),
    (V201, "Heartbeat", {}),
    (
        V201,
        "StatusNotification",
        {"timestamp": AT, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    ),
    (
        V201,
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": AT,
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "tx-1"},
            "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"},
            "meterValue": [
                {
                    "timestamp": AT,
                    "sampledValue": [
                        {"value": 0.0, "unitOfMeasure": {"unit": "Wh"}, "customData": {"vendorId": "X"}}
                    ],
                }
            ],
        },
    ),
    (
        V201,
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeValue": "300",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
    ),
]

VALID_RESPONSES: list[tuple[OcppVersion, str, Payload]] = [
    (V16, "BootNotification", {"status": "Accepted", "currentTime": AT, "interval": 300}),
    (
        V16,
        "GetConfiguration",
        {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
    ),
    (V16, "RemoteStartTransaction", {"status": "Accepted"}),
    (V201, "BootNotification", {"status": "Accepted", "currentTime": AT, "interval": 300}),
    (
        V201,
        "SetVariables",
        {
            "setVariableResult": [
                {"attributeStatus": "Accepted", "component": {"name": "C"}, "variable": {"name": "V"}}
            ]
        },
    ),
]


@pytest.mark.parametrize("lenient", [False, True])
@pytest.mark.parametrize(("version", "action", "payload"), VALID_REQUESTS)
def test_a_valid_request_passes_as_is(
    version: OcppVersion, action: str, payload: Payload, lenient: bool
) -> None:
    checked, quirks = Validators.for_version(version).check_request(action, payload, lenient=lenient)
    assert checked is payload  # the fast path neither copies nor changes it
    assert quirks == []


@pytest.mark.parametrize("lenient", [False, True])
@pytest.mark.parametrize(("version", "action", "payload"), VALID_RESPONSES)
def test_a_valid_response_passes_as_is(
    version: OcppVersion, action: str, payload: Payload, lenient: bool
) -> None:
    checked, quirks = Validators.for_version(version).check_response(action, payload, lenient=lenient)
    assert checked is payload
    assert quirks == []


STATUS_16: Payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
STATUS_201: Payload = {"timestamp": AT, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
BOOT_201: Payload = {"reason": "PowerUp", "chargingStation": {"model": "Model", "vendorName": "Vendor"}}


_DROP = object()


def _with(base: Payload, **changes: object) -> Payload:
    payload = dict(base)
    for key, value in changes.items():
        if value is _DROP:
            del payload[key]
        else:
            payload[key] = value
    return payload


# (version, action, payload, the kind of error, its path in the payload, whether lenient mode accepts it)
FAILURES: list[tuple[OcppVersion, str, Payload, ErrorKind, str, bool]] = [
    (
        V16,
        "StatusNotification",
        _with(STATUS_16, errorCode=_DROP),
        ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
        "",
        False,
    ),
    (
        V201,
        "StatusNotification",
        _with(STATUS_201, evseId=_DROP),
        ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
        "",
        False,
    ),
    (
        V16,
        "MeterValues",
        {"connectorId": 1, "meterValue": []},
        ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
        "meterValue",
        False,
    ),
    (
        V201,
        "MeterValues",
        {"evseId": 1, "meterValue": []},
        ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
        "meterValue",
        False,
    ),
    (
        V16,
        "StatusNotification",
        _with(STATUS_16, connectorId="1"),
        ErrorKind.TYPE_CONSTRAINT_VIOLATION,
        "connectorId",
        True,
    ),
    (
        V201,
        "StatusNotification",
        _with(STATUS_201, evseId=1.5),
        ErrorKind.TYPE_CONSTRAINT_VIOLATION,
        "evseId",
        False,
    ),
    (
        V16,
        "StatusNotification",
        _with(STATUS_16, connectorId=True),
        ErrorKind.TYPE_CONSTRAINT_VIOLATION,
        "connectorId",
        False,
    ),
    (
        V16,
        "StatusNotification",
        _with(STATUS_16, status="Sleeping"),
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
        "status",
        False,
    ),
    (
        V201,
        "StatusNotification",
        _with(STATUS_201, connectorStatus="Sleeping"),
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
        "connectorStatus",
        False,
    ),
    (
        V16,
        "StatusNotification",
        _with(STATUS_16, info="x" * 51),
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
        "info",
        True,
    ),
    (
        V201,
        "BootNotification",
        _with(BOOT_201, chargingStation={"model": "M" * 21, "vendorName": "V"}),
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
        "chargingStation.model",
        True,
    ),
    (
        V16,
        "StatusNotification",
        _with(STATUS_16, timestamp="yesterday"),
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
        "timestamp",
        False,
    ),
    (
        V201,
        "StatusNotification",
        _with(STATUS_201, timestamp="yesterday"),
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
        "timestamp",
        False,
    ),
    (V16, "StatusNotification", _with(STATUS_16, colour="red"), ErrorKind.PDU_STRUCTURE, "", False),
    (V201, "StatusNotification", _with(STATUS_201, colour="red"), ErrorKind.PDU_STRUCTURE, "", False),
    (V16, "TransactionEvent", {}, ErrorKind.NOT_IMPLEMENTED, "", False),
    (V201, "StartTransaction", {}, ErrorKind.NOT_IMPLEMENTED, "", False),
]


@pytest.mark.parametrize("lenient", [False, True])
@pytest.mark.parametrize(("version", "action", "payload", "kind", "path", "quirk"), FAILURES)
def test_each_failure_gets_its_code_in_both_versions(
    version: OcppVersion,
    action: str,
    payload: Payload,
    kind: ErrorKind,
    path: str,
    quirk: bool,
    lenient: bool,
) -> None:
    validators = Validators.for_version(version)
    if lenient and quirk:
        assert validators.check_request(action, payload, lenient=True)[1] != []
        return
    with pytest.raises(ValidationFailed) as caught:
        validators.check_request(action, payload, lenient=lenient)
    error = caught.value
    assert (error.kind, error.code, error.path) == (kind, error_code(kind, version), path)
    assert error.action == action
    assert error.description.startswith(f"{action}: ")
    assert len(error.description) <= 255
    assert isinstance(error, OcppError) and isinstance(error, InvalidInput)


def test_the_codes_are_spelled_per_version() -> None:
    spelled = {
        (version, kind): error_code(kind, version)
        for version in OcppVersion
        for kind in (ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION, ErrorKind.PDU_STRUCTURE)
    }
    assert spelled == {
        (V16, ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION): "OccurenceConstraintViolation",
        (V201, ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION): "OccurrenceConstraintViolation",
        (V16, ErrorKind.PDU_STRUCTURE): "FormationViolation",
        (V201, ErrorKind.PDU_STRUCTURE): "ProtocolError",
    }


def test_a_bad_response_fails_too() -> None:
    with pytest.raises(ValidationFailed) as caught:
        Validators.for_version(V16).check_response(
            "RemoteStartTransaction", {"status": "Maybe"}, lenient=False
        )
    assert caught.value.code == "PropertyConstraintViolation"


# --- lenient mode ------------------------------------------------------------------------------------


def _lenient(
    version: OcppVersion, action: str, payload: Payload, *, response: bool = False
) -> tuple[Payload, list[Quirk]]:
    validators = Validators.for_version(version)
    check = validators.check_response if response else validators.check_request
    sent = copy.deepcopy(payload)
    with pytest.raises(ValidationFailed):
        check(action, payload, lenient=False)  # each case really breaks the schema
    checked, quirks = check(action, payload, lenient=True)
    assert payload == sent  # the caller's payload is left as it was
    return checked, quirks


def test_lenient_keeps_an_over_long_serial_number_schneider() -> None:
    serial = "EVB1A22P4RI3N1234567890123"  # 26 characters where 1.6 allows 25
    payload: Payload = {
        "chargePointVendor": "Schneider Electric",
        "chargePointModel": "MONOBLOCK",
        "chargePointSerialNumber": serial,
    }
    checked, quirks = _lenient(V16, "BootNotification", payload)
    assert checked == payload
    assert quirks == [
        Quirk(
            "BootNotification",
            QuirkKind.STRING_TOO_LONG,
            "chargePointSerialNumber",
            "26 characters where 25 are allowed",
        )
    ]


def test_lenient_reads_configuration_values_that_are_not_strings() -> None:
    payload: Payload = {
        "configurationKey": [
            {"key": "HeartbeatInterval", "readonly": False, "value": 300},
            {"key": "LocalAuthorizeOffline", "readonly": False, "value": True},
            {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
        ]
    }
    checked, quirks = _lenient(V16, "GetConfiguration", payload, response=True)
    assert checked == {
        "configurationKey": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "LocalAuthorizeOffline", "readonly": False, "value": "true"},
            {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
        ]
    }
    assert [(q.kind, q.path) for q in quirks] == [
        (QuirkKind.NOT_A_STRING, "configurationKey[0].value"),
        (QuirkKind.NOT_A_STRING, "configurationKey[1].value"),
    ]


def test_lenient_converts_a_meter_value_sent_as_a_string() -> None:
    payload: Payload = {
        "evseId": 1,
        "meterValue": [
            {"timestamp": AT, "sampledValue": [{"value": "1234.5"}, {"value": "-7"}, {"value": 3}]}
        ],
    }
    checked, quirks = _lenient(V201, "MeterValues", payload)
    assert checked["meterValue"] == [
        {"timestamp": AT, "sampledValue": [{"value": 1234.5}, {"value": -7}, {"value": 3}]}
    ]
    assert [(q.kind, q.path) for q in quirks] == [
        (QuirkKind.NUMBER_AS_STRING, "meterValue[0].sampledValue[0].value"),
        (QuirkKind.NUMBER_AS_STRING, "meterValue[0].sampledValue[1].value"),
    ]


def test_lenient_keeps_an_unknown_error_code_legrand() -> None:
    payload: Payload = {"connectorId": 1, "errorCode": "Error", "status": "Faulted"}
    checked, quirks = _lenient(V16, "StatusNotification", payload)
    assert checked == payload
    assert [(q.action, q.kind, q.path) for q in quirks] == [
        ("StatusNotification", QuirkKind.UNKNOWN_ENUM_VALUE, "errorCode")
    ]


def test_lenient_keeps_unknown_reading_labels_alfen() -> None:
    sampled = {
        "value": "12",
        "context": "Sample.Triggered",
        "measurand": "Energy.Active.Import.Register",
        "unit": "kwh",
    }
    payload: Payload = {"connectorId": 1, "meterValue": [{"timestamp": AT, "sampledValue": [sampled]}]}
    checked, quirks = _lenient(V16, "MeterValues", payload)
    assert checked == payload
    assert [(q.kind, q.path) for q in quirks] == [
        (QuirkKind.UNKNOWN_ENUM_VALUE, "meterValue[0].sampledValue[0].context"),
        (QuirkKind.UNKNOWN_ENUM_VALUE, "meterValue[0].sampledValue[0].unit"),
    ]


def test_lenient_converts_booleans_sent_as_strings() -> None:
    payload: Payload = {
        "eventType": "Updated",
        "timestamp": AT,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": "3",
        "offline": "TRUE",
        "transactionInfo": {"transactionId": "tx-1"},
    }
    checked, quirks = _lenient(V201, "TransactionEvent", payload)
    assert checked["offline"] is True and checked["seqNo"] == 3
    assert sorted((q.kind, q.path) for q in quirks) == [
        (QuirkKind.BOOL_AS_STRING, "offline"),
        (QuirkKind.NUMBER_AS_STRING, "seqNo"),
    ]


@pytest.mark.parametrize("lenient", [False, True])
@pytest.mark.parametrize(
    "timestamp", ["2024-05-01T10:00:00.5", "2024-05-01t10:00:00", "2024-05-01T10:00:00+02:00", AT]
)
def test_a_time_without_offset_passes_even_strict_and_core_flags_it(timestamp: str, lenient: bool) -> None:
    payload: Payload = {"connectorId": 1, "idTag": "04A1B2C3", "meterStart": 0, "timestamp": timestamp}
    checked, quirks = Validators.for_version(V16).check_request("StartTransaction", payload, lenient=lenient)
    assert (checked, quirks) == (payload, [])


def test_lenient_records_every_quirk_of_a_payload_at_once() -> None:
    sampled = [{"value": str(n), "measurand": "Voltage"} for n in range(50)]
    payload: Payload = {
        "evseId": "1",
        "meterValue": [{"timestamp": "2024-05-01T10:00:00", "sampledValue": sampled}],
    }
    checked, quirks = _lenient(V201, "MeterValues", payload)
    assert checked["evseId"] == 1
    assert len(quirks) == 51


LENIENT_STILL_FAILS: list[tuple[OcppVersion, str, Payload, ErrorKind]] = [
    (
        V16,
        "StatusNotification",
        {"connectorId": 1, "status": "Available"},
        ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    ),
    (V16, "StatusNotification", _with(STATUS_16, status="Sleeping"), ErrorKind.PROPERTY_CONSTRAINT_VIOLATION),
    (V16, "StatusNotification", _with(STATUS_16, colour="red"), ErrorKind.PDU_STRUCTURE),
    (V16, "StatusNotification", _with(STATUS_16, connectorId="one"), ErrorKind.TYPE_CONSTRAINT_VIOLATION),
    (V16, "StatusNotification", _with(STATUS_16, connectorId="1.5"), ErrorKind.TYPE_CONSTRAINT_VIOLATION),
    (V16, "StatusNotification", _with(STATUS_16, connectorId=None), ErrorKind.TYPE_CONSTRAINT_VIOLATION),
    (
        V16,
        "StatusNotification",
        _with(STATUS_16, timestamp="yesterday"),
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    (
        V16,
        "StatusNotification",
        _with(STATUS_16, timestamp="2024-05-01"),
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    (
        V201,
        "MeterValues",
        {"evseId": 1, "meterValue": [{"timestamp": AT, "sampledValue": [{"value": "12 kWh"}]}]},
        ErrorKind.TYPE_CONSTRAINT_VIOLATION,
    ),
    # A quirk is fixed, but the payload has another fault that is not a quirk: the fault is reported.
    (
        V16,
        "StatusNotification",
        {"connectorId": "1", "errorCode": "Error", "status": "Sleeping"},
        ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    (
        V16,
        "StatusNotification",
        {"connectorId": "1", "status": "Available"},
        ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    ),
]


@pytest.mark.parametrize(("version", "action", "payload", "kind"), LENIENT_STILL_FAILS)
def test_lenient_still_fails_on_anything_else(
    version: OcppVersion, action: str, payload: Payload, kind: ErrorKind
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Validators.for_version(version).check_request(action, payload, lenient=True)
    assert caught.value.kind is kind


# --- property: validation only ever answers with a payload or ValidationFailed ------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
numbers_as_text = st.integers(-(10**6), 10**6).map(str) | st.floats(-1e6, 1e6).map(repr)
sampled_values = st.fixed_dictionaries(
    {"value": numbers_as_text | json_values},
    optional={
        "measurand": st.sampled_from(["Voltage", "Energy.Active.Import.Register", "Wrong"]) | json_values,
        "context": st.sampled_from(["Sample.Periodic", "Sample.Triggered"]),
        "unit": st.sampled_from(["Wh", "kwh"]),
    },
)
meter_values = st.fixed_dictionaries(
    {
        "timestamp": st.sampled_from([AT, "2024-05-01T10:00:00", "2024-13-01T10:00:00", "soon"])
        | json_values,
        "sampledValue": st.lists(sampled_values, max_size=4),
    }
)
meter_values_payloads = st.fixed_dictionaries(
    {
        "connectorId": st.integers(0, 3) | numbers_as_text | json_values,
        "meterValue": st.lists(meter_values, max_size=3),
    },
    optional={"transactionId": st.integers() | numbers_as_text, "extra": json_values},
)


@settings(deadline=None)
@given(payload=meter_values_payloads, version=st.sampled_from(OcppVersion), lenient=st.booleans())
def test_random_meter_values_give_a_payload_or_validation_failed(
    payload: Payload, version: OcppVersion, lenient: bool
) -> None:
    if version is V201:
        payload["evseId"] = payload.pop("connectorId")
        payload.pop("transactionId", None)
    validators = Validators.for_version(version)
    try:
        checked, quirks = validators.check_request("MeterValues", payload, lenient=lenient)
    except ValidationFailed as error:
        assert error.code == error_code(error.kind, version)
        return
    if not quirks:
        assert checked is payload
    else:
        assert lenient
        assert all(quirk.action == "MeterValues" and quirk.path for quirk in quirks)

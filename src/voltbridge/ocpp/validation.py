"""Compiled JSON-schema validators for every OCPP action, and lenient reading of known charger quirks.

The schemas are the OCA's, as shipped inside the installed ``ocpp`` package (ocpp/v16/schemas,
ocpp/v201/schemas); they are read from there at run time, never copied. fastjsonschema compiles
each into Python code, about 20x faster than the ``jsonschema`` interpreter the ``ocpp`` package
uses (bench/codec.py). A validator is compiled on the first message of its action and then shared by
every connection of that version.

Which CALLERROR a schema failure gets (OCPP-J 1.6 §4.2.3, OCPP 2.0.1 Part 4 §4.3):

    schema rule                      1.6 code                      2.0.1 code
    type                             TypeConstraintViolation       TypeConstraintViolation
    required, minItems, maxItems     OccurenceConstraintViolation  OccurrenceConstraintViolation
    enum, maxLength, format,         PropertyConstraintViolation   PropertyConstraintViolation
      minimum, maximum, multipleOf, pattern
    additionalProperties             FormationViolation            ProtocolError
    unknown action                   NotImplemented                NotImplemented

Reasons: "required" and the item counts are cardinalities, which the specs call occurrence
constraints ("0..1", "1..*"). A value of the right type that the schema refuses is "a field [that]
contains an invalid value": PropertyConstraintViolation. A field the action does not define makes
the payload "not conform the PDU structure for Action", which 1.6 files under FormationViolation and
2.0.1, after splitting that code, under ProtocolError.

Lenient mode (a per-station switch, FIELD-NOTES.md §3) accepts what real chargers get wrong, records
each case as a `Quirk`, and still fails on anything else:

    string_too_long           longer than maxLength (Schneider serial numbers)      kept as sent
    number_as_string          "1234.5" where a number is due (2.0.1 meter values)   converted
    bool_as_string            "true"/"false" where a boolean is due                 converted
    not_a_string              300 or true where a string is due (GetConfiguration)  converted to "300"
    unknown_enum_value        e.g. errorCode "Error" (Legrand), in LENIENT_ENUM_FIELDS only  kept

Times ("format": "date-time") are checked as RFC 3339, as the schemas say, except that the UTC offset
may be missing, in strict mode too: OCPP 1.6 names ISO 8601, which allows local time, chargers do
send it (steve #96, evcc #10399), and core reads such a time as UTC and flags it (core/timeutil.py).
A time that is not a time at all still fails.

The valid case costs one call of the schema's acceptor (acceptor.py): a yes/no check compiled from
the same schema, never more lenient than the validator and over twice as fast on a MeterValues. Only
when it says no does the compiled validator run, to name the broken rule (a schema with no acceptor
has the validator alone). Only a payload that fails is walked along its schema to find and fix
quirks, and validated once more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import cast

import fastjsonschema
from fastjsonschema import JsonSchemaValueException

from voltbridge.ocpp.acceptor import Accept, compile_acceptor
from voltbridge.ocpp.protocol import ErrorKind, OcppError, OcppVersion

__all__ = ["LENIENT_ENUM_FIELDS", "Quirk", "QuirkKind", "ValidationFailed", "Validators"]

Payload = dict[str, object]
_Validate = Callable[[object], object]
_Compiled = tuple[Accept | None, _Validate]  # the acceptor (None if the schema has none) and validator
_Schema = dict[str, object]

# Fields whose enum only describes a reading or an error. An unknown value there loses a label, not
# meaning, so lenient mode keeps it. Enums that drive state (status, connectorStatus, eventType, ...)
# stay strict even in lenient mode.
LENIENT_ENUM_FIELDS = frozenset(
    {"errorCode", "context", "format", "measurand", "phase", "location", "unit", "reason", "stoppedReason"}
)


class QuirkKind(StrEnum):
    """A way a charger breaks its schema that lenient mode accepts."""

    STRING_TOO_LONG = "string_too_long"
    NUMBER_AS_STRING = "number_as_string"
    BOOL_AS_STRING = "bool_as_string"
    NOT_A_STRING = "not_a_string"
    UNKNOWN_ENUM_VALUE = "unknown_enum_value"


@dataclass(frozen=True, slots=True)
class Quirk:
    """One schema violation that lenient mode accepted; `path` is like ``meterValue[0].sampledValue[2].value``."""

    action: str
    kind: QuirkKind
    path: str
    detail: str


class ValidationFailed(OcppError):
    """Raised when a payload breaks its action's schema (or names no action); `code` is the CALLERROR code.

    `path` is where in the payload (empty for the payload itself) and `rule` the schema keyword broken.
    """

    def __init__(
        self, kind: ErrorKind, version: OcppVersion, action: str, description: str, path: str, rule: str
    ) -> None:
        super().__init__(kind, version, description)
        self.action = action
        self.path = path
        self.rule = rule


# RFC 3339 date-time with the offset optional (see the module docstring).
_DATE_TIME = (
    r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[Tt](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"
    r"(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?\Z"
)
_DATE_TIME_RE = re.compile(_DATE_TIME)

_KIND_BY_RULE: dict[str, ErrorKind] = {
    "type": ErrorKind.TYPE_CONSTRAINT_VIOLATION,
    "required": ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorKind.PDU_STRUCTURE,
}  # every other rule (enum, maxLength, format, minimum, multipleOf, ...) refuses a value


class Validators:
    """The request and response validators of one OCPP version; get them with `for_version`."""

    def __init__(self, version: OcppVersion) -> None:
        self.version = version
        self._folder, self._request_suffix = _SCHEMAS[version]
        names = {entry.name for entry in self._folder.iterdir() if entry.name.endswith(".json")}
        actions = set()
        for name in names:
            stem = name.removesuffix(".json")
            if not stem.endswith("Response") and stem.endswith(self._request_suffix):
                action = stem.removesuffix(self._request_suffix) if self._request_suffix else stem
                if f"{action}Response.json" in names:
                    actions.add(action)
        self.actions = frozenset(actions)
        self._requests: dict[str, _Compiled] = {}
        self._responses: dict[str, _Compiled] = {}
        self._schemas: dict[tuple[str, bool], _Schema] = {}

    @classmethod
    def for_version(cls, version: OcppVersion) -> Validators:
        """The shared validators of `version` (built once per process)."""
        validators = _BY_VERSION.get(version)
        if validators is None:
            validators = _BY_VERSION[version] = cls(version)
        return validators

    def knows(self, action: str) -> bool:
        """Whether `action` is an action of this version (in either direction)."""
        return action in self.actions

    def compile_all(self) -> None:
        """Compile every validator now rather than on each action's first message (~2 s for 2.0.1)."""
        for action in self.actions:
            self._compile(action, request=True)
            self._compile(action, request=False)

    def check_request(self, action: str, payload: Payload, *, lenient: bool) -> tuple[Payload, list[Quirk]]:
        """Check the payload of a CALL of `action`; return it (fixed, if lenient) and the quirks accepted.

        Raises `ValidationFailed` with the CALLERROR code to answer. A valid payload is returned as is.
        """
        accept, validate = self._requests.get(action) or self._compile(action, request=True)
        if accept is not None and accept(payload):
            return payload, []
        try:
            validate(payload)
        except JsonSchemaValueException as exc:
            return self._on_failure(action, True, payload, exc, lenient)
        return payload, []

    def check_response(self, action: str, payload: Payload, *, lenient: bool) -> tuple[Payload, list[Quirk]]:
        """Check the payload of the CALLRESULT to a CALL of `action`, as `check_request` does."""
        accept, validate = self._responses.get(action) or self._compile(action, request=False)
        if accept is not None and accept(payload):
            return payload, []
        try:
            validate(payload)
        except JsonSchemaValueException as exc:
            return self._on_failure(action, False, payload, exc, lenient)
        return payload, []

    def _schema(self, action: str, request: bool) -> _Schema:
        schema = self._schemas.get((action, request))
        if schema is None:
            suffix = self._request_suffix if request else "Response"
            # The OCA's 2.0.1 schemas start with a byte order mark.
            text = (self._folder / f"{action}{suffix}.json").read_text(encoding="utf-8-sig")
            schema = self._schemas[action, request] = cast(_Schema, json.loads(text))
        return schema

    def _compile(self, action: str, *, request: bool) -> _Compiled:
        if action not in self.actions:
            raise ValidationFailed(
                ErrorKind.NOT_IMPLEMENTED,
                self.version,
                action,
                f"{action}: no such action in {self.version.value}",
                "",
                "action",
            )
        schema = self._schema(action, request)
        # use_default=False: a validator must not write the schema's defaults into the payload.
        compiled = fastjsonschema.compile(schema, formats={"date-time": _DATE_TIME}, use_default=False)
        pair: _Compiled = (compile_acceptor(schema, _DATE_TIME_RE), cast(_Validate, compiled))
        (self._requests if request else self._responses)[action] = pair
        return pair

    def _on_failure(
        self, action: str, request: bool, payload: Payload, exc: JsonSchemaValueException, lenient: bool
    ) -> tuple[Payload, list[Quirk]]:
        if not lenient:
            raise self._failed(action, exc) from None
        relaxer = _Relaxer(action, self._schema(action, request))
        relaxed = relaxer.relax(payload)
        if not relaxer.quirks:
            raise self._failed(action, exc) from None
        _, validate = (self._requests if request else self._responses)[action]
        try:
            validate(relaxed)
        except JsonSchemaValueException as remaining:
            raise self._failed(action, remaining) from None
        relaxer.restore()
        return relaxed, relaxer.quirks

    def _failed(self, action: str, exc: JsonSchemaValueException) -> ValidationFailed:
        rule = str(exc.rule)
        name = str(exc.name or "data")
        path = name.removeprefix("data").removeprefix(".")
        message = str(exc.message)
        message = message.removeprefix("data.") if message.startswith("data.") else "payload" + message[4:]
        kind = _KIND_BY_RULE.get(rule, ErrorKind.PROPERTY_CONSTRAINT_VIOLATION)
        return ValidationFailed(kind, self.version, action, f"{action}: {message}", path, rule)


_SCHEMAS = {
    OcppVersion.V16: (resources.files("ocpp") / "v16" / "schemas", ""),
    OcppVersion.V201: (resources.files("ocpp") / "v201" / "schemas", "Request"),
}
_BY_VERSION: dict[OcppVersion, Validators] = {}


# --- lenient mode -------------------------------------------------------------------------------

_INTEGER = re.compile(r"\s*-?(?:0|[1-9]\d*)\s*")
_NUMBER = re.compile(r"\s*-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\s*")


@dataclass(slots=True)
class _Kept:
    """A value lenient mode keeps although the schema refuses it, and what the validator sees instead."""

    placeholder: object
    original: object


class _Relaxer:
    """Walks a failed payload along its schema, converting or setting aside each known quirk."""

    def __init__(self, action: str, schema: _Schema) -> None:
        self._action = action
        self._root = schema
        self.quirks: list[Quirk] = []
        self._restores: list[tuple[dict[str, object] | list[object], object, object]] = []

    def relax(self, payload: Payload) -> Payload:
        """A copy of `payload` with quirks fixed, and placeholders where values are kept; see `restore`."""
        return cast(Payload, self._walk(payload, self._root, "", ""))

    def restore(self) -> None:
        """Put the kept values back in place of their placeholders (once the copy has validated)."""
        for container, key, original in self._restores:
            if isinstance(container, dict):
                container[cast(str, key)] = original
            else:
                container[cast(int, key)] = original

    def _resolve(self, schema: _Schema) -> _Schema:
        # The OCA schemas only refer to their own "#/definitions/...".
        ref = schema.get("$ref")
        while isinstance(ref, str) and ref.startswith("#/definitions/"):
            definitions = cast(dict[str, _Schema], self._root.get("definitions", {}))
            schema = definitions[ref.removeprefix("#/definitions/")]
            ref = schema.get("$ref")
        return schema

    def _walk(self, value: object, schema: _Schema, path: str, field: str) -> object:
        schema = self._resolve(schema)
        expected = schema.get("type")
        if isinstance(value, dict):
            properties = schema.get("properties")
            if expected != "object" or not isinstance(properties, dict):
                return value
            mapping: dict[str, object] = {}
            for key, item in value.items():
                sub = properties.get(key)
                walked = item if sub is None else self._walk(item, sub, f"{path}.{key}" if path else key, key)
                mapping[key] = self._place(mapping, key, walked)
            return mapping
        if isinstance(value, list):
            items = schema.get("items")
            if expected != "array" or not isinstance(items, dict):
                return value
            sequence: list[object] = []
            for index, item in enumerate(value):
                walked = self._walk(item, items, f"{path}[{index}]", field)
                sequence.append(self._place(sequence, index, walked))
            return sequence
        return self._scalar(value, schema, expected, path, field)

    def _place(self, container: dict[str, object] | list[object], key: object, walked: object) -> object:
        if isinstance(walked, _Kept):
            self._restores.append((container, key, walked.original))
            return walked.placeholder
        return walked

    def _note(self, kind: QuirkKind, path: str, detail: str) -> None:
        self.quirks.append(Quirk(self._action, kind, path, detail))

    def _scalar(self, value: object, schema: _Schema, expected: object, path: str, field: str) -> object:
        if isinstance(value, str):
            if expected == "integer" and _INTEGER.fullmatch(value):
                self._note(QuirkKind.NUMBER_AS_STRING, path, f"integer sent as the string {value!r}")
                return int(value)
            if expected == "number" and _NUMBER.fullmatch(value):
                self._note(QuirkKind.NUMBER_AS_STRING, path, f"number sent as the string {value!r}")
                return int(value) if _INTEGER.fullmatch(value) else float(value)
            if expected == "boolean" and value.strip().lower() in ("true", "false"):
                self._note(QuirkKind.BOOL_AS_STRING, path, f"boolean sent as the string {value!r}")
                return value.strip().lower() == "true"
            if expected == "string":
                return self._string(value, schema, path, field)
            return value
        if expected == "string" and isinstance(value, bool | int | float):
            text = json.dumps(value)
            self._note(QuirkKind.NOT_A_STRING, path, f"{text} sent where a string is due; read as {text!r}")
            return self._string(text, schema, path, field)
        return value

    def _string(self, value: str, schema: _Schema, path: str, field: str) -> object:
        checked = value
        allowed = schema.get("enum")
        if isinstance(allowed, list) and value not in allowed:
            if field not in LENIENT_ENUM_FIELDS:
                return value
            self._note(
                QuirkKind.UNKNOWN_ENUM_VALUE,
                path,
                f"{value!r} is none of the {len(allowed)} values of {field}",
            )
            checked = cast(str, allowed[0])
        max_length = schema.get("maxLength")
        if isinstance(max_length, int) and len(checked) > max_length:
            self._note(
                QuirkKind.STRING_TOO_LONG, path, f"{len(checked)} characters where {max_length} are allowed"
            )
            checked = checked[:max_length]
        return value if checked is value else _Kept(checked, value)

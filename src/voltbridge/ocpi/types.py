"""OCPI data types shared by every version: CiString, string(n), DateTime, number, DisplayText, Price.

What goes on the wire follows the interop lessons of OCPI-NOTES.md section 2.7:
- DateTime is always written in UTC with a `Z`, with no fraction or exactly 3 decimals; on input every
  RFC 3339 form is accepted (with or without `Z`, any number of decimals, an offset is converted).
- numbers are `Decimal` inside and JSON numbers outside (at most 4 decimals unless a field says more).
- CiString is printable ASCII; comparisons ignore case (`ci_equal`, and the store keeps a folded copy).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

_PRINTABLE_ASCII = r"^[\x20-\x7E]*$"


def _ci(length: int) -> StringConstraints:
    return StringConstraints(max_length=length, pattern=_PRINTABLE_ASCII)


CiString2 = Annotated[str, _ci(2)]
CiString3 = Annotated[str, _ci(3)]
CiString4 = Annotated[str, _ci(4)]
CiString32 = Annotated[str, _ci(32)]
CiString36 = Annotated[str, _ci(36)]
CiString39 = Annotated[str, _ci(39)]
CiString48 = Annotated[str, _ci(48)]
"""CiString(n): case-insensitive printable ASCII of at most n characters."""

String2 = Annotated[str, StringConstraints(max_length=2)]
String3 = Annotated[str, StringConstraints(max_length=3)]
String4 = Annotated[str, StringConstraints(max_length=4)]
String5 = Annotated[str, StringConstraints(max_length=5)]
String10 = Annotated[str, StringConstraints(max_length=10)]
String11 = Annotated[str, StringConstraints(max_length=11)]
String16 = Annotated[str, StringConstraints(max_length=16)]
String20 = Annotated[str, StringConstraints(max_length=20)]
String45 = Annotated[str, StringConstraints(max_length=45)]
String64 = Annotated[str, StringConstraints(max_length=64)]
String100 = Annotated[str, StringConstraints(max_length=100)]
String255 = Annotated[str, StringConstraints(max_length=255)]
String512 = Annotated[str, StringConstraints(max_length=512)]
String5000 = Annotated[str, StringConstraints(max_length=5000)]
"""string(n): UTF-8 text of at most n characters."""

URL = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
"""An absolute URL (not checked further: partners use private host names)."""


def ci_equal(a: str | None, b: str | None) -> bool:
    """CiString equality: ids are compared without case and written back as they were given."""
    if a is None or b is None:
        return a is b
    return a.casefold() == b.casefold()


def format_datetime(value: datetime) -> str:
    """A DateTime as OCPI partners accept it everywhere: UTC, `Z`, no fraction or 3 decimals."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: object) -> datetime:
    """Read any RFC 3339 form a partner sends; a time without offset is UTC (the OCPI default)."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # Python before 3.11 rejected more than 6 decimals; partners with nanoseconds exist.
        if "." in text:
            head, _, tail = text.partition(".")
            digits = ""
            rest = ""
            for i, ch in enumerate(tail):
                if not ch.isdigit():
                    rest = tail[i:]
                    break
                digits += ch
            text = f"{head}.{digits[:6].ljust(6, '0')}{rest}" if digits else head + rest
        try:
            result = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an RFC 3339 DateTime") from exc
    else:
        raise ValueError(f"{value!r} is not a DateTime")
    if result.tzinfo is None:
        return result.replace(tzinfo=UTC)
    return result.astimezone(UTC)


DateTime = Annotated[
    datetime,
    BeforeValidator(parse_datetime),
    PlainSerializer(format_datetime, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An OCPI DateTime (UTC)."""


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    raise ValueError(f"{value!r} is not a number")


def _number_out(value: Decimal) -> float | int:
    quantized = value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    if quantized == quantized.to_integral_value():
        return int(quantized)
    return float(quantized)


Number = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    PlainSerializer(_number_out, return_type=float),
    WithJsonSchema({"type": "number"}),
]
"""An OCPI number: Decimal inside, a JSON number with at most 4 decimals outside."""


class OcpiModel(BaseModel):
    """Base of every OCPI object. Unknown fields are ignored, as the spec asks receivers to do."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, use_enum_values=False)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object to send: fields that are not set (None) or empty optional lists are left out.

        Leaving out an empty `*` list means the same (its default) and spares partners whose models
        got a list's cardinality wrong (extrawest-ocpi reads EVSE.status_schedule as one object).
        """
        wire: dict[str, Any] = _drop_empty(self.model_dump(mode="json", exclude_none=True))
        return wire


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


class DisplayText(OcpiModel):
    """A text in one language."""

    language: Annotated[str, StringConstraints(min_length=2, max_length=2)]
    text: String512


class Price(OcpiModel):
    """An amount excluding and (optionally) including VAT (2.2.x; 2.3.0 changes this type)."""

    excl_vat: Number
    incl_vat: Number | None = None


class VersionNumber(StrEnum):
    """Protocol versions (2.0, 2.1 and 2.2 are deprecated and never chosen)."""

    V2_0 = "2.0"
    V2_1 = "2.1"
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"
    V2_2_1 = "2.2.1"
    V2_3_0 = "2.3.0"


class ModuleID(StrEnum):
    """Module identifiers in version details."""

    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class InterfaceRole(StrEnum):
    """Which side of a module an endpoint serves (new in 2.2)."""

    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class Role(StrEnum):
    """Roles a party can have (2.2.1)."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"

"""Fast yes/no acceptors for the OCA JSON schemas, tried before the fastjsonschema validators.

An acceptor answers one question about a payload, "is it valid?", as a bool, and says nothing about
why not. validation.py calls it first and runs the fastjsonschema validator only when it says no: that
validator's exception names the rule and path that choose the CALLERROR code, and lenient mode works
from it. Nearly every payload is valid, so the acceptor's speed is what validation costs.

It exists because the code fastjsonschema generates is general and slow on these schemas: an enum is
a chain of ``isinstance(x, str) and x == '...' or ...`` (22 comparisons for a 1.6 measurand), every
object builds a set of its keys to find missing and unknown ones, every ``$ref`` is a function call
with a name argument. Here each schema becomes nested closures, built once: an enum is one frozenset
lookup, an object one pass over its items with a dict of the closures of its properties.

The soundness rule: an acceptor never returns True for a payload the validator, as validation.py
compiles it, rejects. It may be stricter (a float where an integer is due, a str subclass, a tuple
for an array, a NaN where a bound applies are all refused, and left to the validator), which costs
only speed. A schema that uses a keyword or a form this module does not check exactly as
fastjsonschema does, or more strictly, gets no acceptor at all (`compile_acceptor` returns None).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import cast

__all__ = ["Accept", "compile_acceptor"]

Accept = Callable[[object], bool]
_Schema = dict[str, object]

# Keywords that constrain nothing: annotations, and "default", as validators are compiled with
# use_default=False. "$schema", "$id" and "definitions" are only allowed at the root.
_ANNOTATIONS = frozenset({"description", "javaType", "comment", "title", "default"})
_ROOT_ONLY = frozenset({"$schema", "$id", "definitions"})
_KEYWORDS = frozenset(
    {
        "type",
        "$ref",
        "enum",
        "maxLength",
        "format",
        "minimum",
        "maximum",
        "multipleOf",
        "items",
        "additionalItems",
        "minItems",
        "maxItems",
        "properties",
        "required",
        "additionalProperties",
    }
)
_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})

# fastjsonschema's "uri" is ^\w+:(\/?\/?)[^\s]+\Z; the optional slashes add nothing to [^\s]+.
_URI = re.compile(r"\w+:\S+")


class _Unsupported(Exception):
    """The schema uses something that is not checked here exactly as fastjsonschema does."""


def compile_acceptor(schema: dict[str, object], date_time: re.Pattern[str]) -> Accept | None:
    """The acceptor of `schema`, or None if the schema uses a keyword or form it cannot check.

    `date_time` is the pattern given to fastjsonschema for "format": "date-time" (used with .match, as
    fastjsonschema does).
    """
    try:
        return _Compiler(schema, date_time).node(schema, root=True)
    except _Unsupported:
        return None


def _never(value: object) -> bool:
    return False


class _Compiler:
    def __init__(self, root: _Schema, date_time: re.Pattern[str]) -> None:
        definitions = root.get("definitions", {})
        if not isinstance(definitions, dict):
            raise _Unsupported("definitions")
        self._definitions = cast(dict[str, object], definitions)
        self._formats: dict[str, Callable[[str], object]] = {
            "date-time": date_time.match,
            "uri": _URI.fullmatch,
        }
        self._refs: dict[str, Accept] = {}
        self._pending: set[str] = set()

    def node(self, schema: object, *, root: bool = False) -> Accept:
        """The acceptor of one (sub)schema."""
        if not isinstance(schema, dict):
            raise _Unsupported("a schema that is not an object")
        schema = cast(_Schema, schema)
        unknown = schema.keys() - _KEYWORDS - _ANNOTATIONS - (_ROOT_ONLY if root else set())
        if unknown:
            raise _Unsupported(f"keywords {sorted(unknown)}")
        if "$ref" in schema:
            # fastjsonschema ignores the siblings of "$ref"; refuse a schema that gives any.
            if schema.keys() & _KEYWORDS != {"$ref"}:
                raise _Unsupported("$ref with sibling keywords")
            return self._ref(schema["$ref"])

        kinds = _TYPES
        if "type" in schema:
            given = schema["type"]
            names = given if isinstance(given, list) else [given]
            if not all(isinstance(name, str) and name in _TYPES for name in names):
                raise _Unsupported(f"type {given!r}")
            kinds = frozenset(cast(list[str], names))
        if "enum" in schema:
            enum = schema["enum"]
            if not isinstance(enum, list) or not all(type(value) is str for value in enum):
                raise _Unsupported("an enum not all of strings")
            kinds &= {"string"}  # fastjsonschema compares each value with isinstance(x, str) and ==

        # Each keyword constrains values of one shape only; a check per Python type of JSON value.
        by_type: dict[type, Accept] = {}
        if "string" in kinds:
            by_type[str] = self._string(schema)
        if "number" in kinds or "integer" in kinds:
            by_type[int] = self._number(schema, integer="number" not in kinds)
            if "number" in kinds:
                by_type[float] = by_type[int]
        if "boolean" in kinds:
            by_type[bool] = _is_bool
        if "null" in kinds:
            by_type[type(None)] = _is_none
        if "array" in kinds:
            by_type[list] = self._array(schema)
        if "object" in kinds:
            by_type[dict] = self._object(schema)

        checks = set(by_type.values())
        if not checks:
            return _never
        if len(checks) == 1:
            return checks.pop()  # each check tests its own type too

        def accept(value: object) -> bool:
            check = by_type.get(type(value))
            return check is not None and check(value)

        return accept

    def _ref(self, ref: object) -> Accept:
        # Only this document's "#/definitions/Name", with no escapes in the name.
        if not isinstance(ref, str) or not re.fullmatch(r"#/definitions/[^/~%]+", ref):
            raise _Unsupported(f"$ref {ref!r}")
        name = ref.removeprefix("#/definitions/")
        check = self._refs.get(name)
        if check is None:
            if name in self._pending or name not in self._definitions:
                raise _Unsupported(f"$ref {ref!r} (recursive or missing)")
            self._pending.add(name)
            check = self._refs[name] = self.node(self._definitions[name])
            self._pending.discard(name)
        return check

    def _string(self, schema: _Schema) -> Accept:
        max_length = _count(schema, "maxLength")
        fits: Callable[[str], object] | None = None
        if "format" in schema:
            # fastjsonschema checks no format it does not know; check none we do not know either.
            fits = self._formats.get(cast(str, schema["format"]))
            if fits is None:
                raise _Unsupported(f"format {schema['format']!r}")
        if "enum" in schema:
            # The values that also meet maxLength and format; only those can be accepted.
            allowed = frozenset(
                value
                for value in cast(list[str], schema["enum"])
                if (max_length is None or len(value) <= max_length) and (fits is None or fits(value))
            )

            def in_enum(value: object) -> bool:
                return type(value) is str and value in allowed

            return in_enum
        if fits is not None:
            match, limit = fits, sys.maxsize if max_length is None else max_length

            def formatted(value: object) -> bool:
                return type(value) is str and len(value) <= limit and match(value) is not None

            return formatted
        if max_length is not None:
            limit = max_length

            def short(value: object) -> bool:
                return type(value) is str and len(value) <= limit

            return short
        return _is_str

    def _number(self, schema: _Schema, *, integer: bool) -> Accept:
        low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
        multiple = _multiple_of(schema["multipleOf"]) if "multipleOf" in schema else None
        if low is None and high is None and multiple is None:
            return _is_int if integer else _is_number
        low = -math.inf if low is None else low
        high = math.inf if high is None else high

        def accept(value: object) -> bool:
            if type(value) is not int and (integer or type(value) is not float):
                return False
            number = cast(float, value)
            # NaN fails these comparisons: refused (fastjsonschema lets it through a bound).
            return low <= number <= high and (multiple is None or multiple(number))

        return accept

    def _array(self, schema: _Schema) -> Accept:
        low = _count(schema, "minItems") or 0
        high = _count(schema, "maxItems")
        high = sys.maxsize if high is None else high
        items = schema.get("items")
        if isinstance(items, list):
            raise _Unsupported("items as a list")  # then "additionalItems" would count too
        # With "items" a single schema (or absent), fastjsonschema, like JSON Schema, ignores
        # "additionalItems".
        item = None if items is None else self.node(items)

        def accept(value: object) -> bool:
            if type(value) is not list or not low <= len(value) <= high:
                return False
            if item is not None:
                for element in value:
                    if not item(element):
                        return False
            return True

        return accept

    def _object(self, schema: _Schema) -> Accept:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        extra = schema.get("additionalProperties", True)
        if not isinstance(properties, dict):
            raise _Unsupported("properties")
        if not isinstance(required, list) or not all(isinstance(key, str) for key in required):
            raise _Unsupported("required")
        if not isinstance(extra, bool):
            raise _Unsupported("additionalProperties as a schema")
        checks = {cast(str, key): self.node(sub) for key, sub in properties.items()}
        needed = frozenset(cast(list[str], required))

        if extra:

            def open_object(value: object) -> bool:
                if type(value) is not dict:
                    return False
                for key, item in value.items():
                    check = checks.get(key)
                    if check is not None and not check(item):
                        return False
                return value.keys() >= needed

            return open_object

        def closed_object(value: object) -> bool:
            if type(value) is not dict:
                return False
            for key, item in value.items():
                check = checks.get(key)
                if check is None or not check(item):
                    return False
            return value.keys() >= needed

        return closed_object


def _is_str(value: object) -> bool:
    return type(value) is str


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) is int or type(value) is float


def _is_bool(value: object) -> bool:
    return type(value) is bool


def _is_none(value: object) -> bool:
    return value is None


def _count(schema: _Schema, keyword: str) -> int | None:
    value = schema.get(keyword)
    if value is not None and (type(value) is not int or value < 0):
        raise _Unsupported(f"{keyword} {value!r}")
    return value


def _bound(schema: _Schema, keyword: str) -> float | None:
    value = schema.get(keyword)
    if value is not None and (type(value) not in (int, float) or value != value):
        raise _Unsupported(f"{keyword} {value!r}")
    return cast(float | None, value)


def _multiple_of(step: object) -> Callable[[float], bool]:
    """fastjsonschema's multipleOf test, False where it fails or raises (NaN, infinity, overflow)."""
    if type(step) not in (int, float) or not 0 < cast(float, step) < math.inf:
        raise _Unsupported(f"multipleOf {step!r}")
    divisor = cast(float, step)
    exact = Decimal(repr(divisor)) if type(step) is float else None

    def multiple(number: float) -> bool:
        try:
            if type(number) is int and exact is None:
                return number % divisor == 0
            # Like fastjsonschema: decimals when the step is a float, so that 19.01 / 0.01 is 1901.
            quotient = number / divisor if exact is None else Decimal(repr(number)) / exact
            return int(quotient) == quotient and number / divisor != math.inf
        except (ArithmeticError, ValueError):
            return False

    return multiple

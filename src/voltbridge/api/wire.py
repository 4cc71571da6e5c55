"""Shared wire types: times in UTC with `Z`, list envelopes, error bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from voltbridge.core.timeutil import iso_utc

UtcTime = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2025-01-31T09:30:00.000Z"]}),
]
"""A time the API answers with: ISO-8601 in UTC with `Z`."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


TimeIn = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A time the API accepts: ISO-8601 with an offset (or `Z`); a time without one is ambiguous and refused."""


class Model(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Base of answers; read from service results by attribute."""

    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class ListOf(BaseModel, Generic[T]):
    """A page of a list and the size of the whole list."""

    items: list[T]
    total: int


class ErrorBody(BaseModel):
    """Every error answer: what went wrong, to what, and what to do."""

    detail: str


class StationErrorBody(ErrorBody):
    """A charger answered a command with a CALLERROR (502)."""

    error_code: str
    error_description: str

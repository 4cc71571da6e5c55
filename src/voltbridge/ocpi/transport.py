"""Transport rules shared by the server and the client: the envelope, the Authorization header,
request/correlation ids, hub routing headers, and pagination.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from voltbridge.ocpi.types import format_datetime, parse_datetime

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
TOTAL_COUNT = "X-Total-Count"
LIMIT = "X-Limit"
FROM_COUNTRY = "OCPI-from-country-code"
FROM_PARTY = "OCPI-from-party-id"
TO_COUNTRY = "OCPI-to-country-code"
TO_PARTY = "OCPI-to-party-id"


class TokenEncoding(StrEnum):
    """How a partner writes the credentials token in `Authorization: Token ...`.

    2.2.1 (since d2) says Base64; 2.1.1 and many 2.2 implementations send it plain. `auto` accepts both
    on incoming requests and sends Base64 to 2.2.x partners and plain to 2.1.1 ones.
    """

    BASE64 = "base64"
    PLAIN = "plain"
    AUTO = "auto"


def authorization_header(token: str, encoding: TokenEncoding, version: str | None) -> str:
    """The Authorization header value for an outgoing request."""
    if encoding is TokenEncoding.PLAIN or (encoding is TokenEncoding.AUTO and version == "2.1.1"):
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode()


def token_candidates(header: str | None, encoding: TokenEncoding = TokenEncoding.AUTO) -> list[str]:
    """The credentials tokens an incoming Authorization header may carry, most likely first.

    With `auto` both readings are tried: the Base64-decoded text (when it decodes to printable ASCII)
    and the value as written.
    """
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "token" or not value.strip():
        return []
    value = value.strip()
    candidates: list[str] = []
    if encoding in (TokenEncoding.BASE64, TokenEncoding.AUTO):
        decoded = _b64_text(value)
        if decoded is not None:
            candidates.append(decoded)
    if encoding in (TokenEncoding.PLAIN, TokenEncoding.AUTO) and value not in candidates:
        candidates.append(value)
    return candidates


def _b64_text(value: str) -> str | None:
    try:
        raw = base64.b64decode(value, validate=True)
        text = raw.decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text or not text.isprintable():
        return None
    return text


def envelope(
    data: Any, *, status_code: int = 1000, message: str | None = None, now: datetime
) -> dict[str, Any]:
    """The OCPI response body around `data` (omitted when None)."""
    body: dict[str, Any] = {"status_code": status_code}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    body["timestamp"] = format_datetime(now)
    return body


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed OCPI response body."""

    data: Any
    status_code: int
    status_message: str | None
    timestamp: datetime | None


def parse_envelope(body: object) -> Envelope:
    """Read a response body; raises ValueError when it is not an OCPI envelope."""
    if not isinstance(body, Mapping) or "status_code" not in body:
        raise ValueError("the response is not an OCPI envelope (no status_code)")
    code = body["status_code"]
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool):
        raise ValueError(f"status_code {code!r} is not a number")
    raw_ts = body.get("timestamp")
    timestamp = parse_datetime(raw_ts) if raw_ts else None
    message = body.get("status_message")
    return Envelope(body.get("data"), code, str(message) if message else None, timestamp)


def new_id() -> str:
    """A request or correlation id (a UUID, as the spec suggests)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Party:
    """A (country_code, party_id) pair, compared without case."""

    country_code: str
    party_id: str

    def key(self) -> tuple[str, str]:
        return (self.country_code.casefold(), self.party_id.casefold())

    def same(self, other: Party) -> bool:
        return self.key() == other.key()


def routing_headers(sender: Party, receiver: Party | None) -> dict[str, str]:
    """Routing headers for a functional-module request; no `to` headers means open routing."""
    headers = {FROM_COUNTRY: sender.country_code, FROM_PARTY: sender.party_id}
    if receiver is not None:
        headers.update({TO_COUNTRY: receiver.country_code, TO_PARTY: receiver.party_id})
    return headers


def routing_from(headers: Mapping[str, str]) -> tuple[Party | None, Party | None]:
    """The (from, to) parties named in a request's routing headers."""
    lower = {k.lower(): v for k, v in headers.items()}
    source = target = None
    if lower.get(FROM_COUNTRY.lower()) and lower.get(FROM_PARTY.lower()):
        source = Party(lower[FROM_COUNTRY.lower()], lower[FROM_PARTY.lower()])
    if lower.get(TO_COUNTRY.lower()) and lower.get(TO_PARTY.lower()):
        target = Party(lower[TO_COUNTRY.lower()], lower[TO_PARTY.lower()])
    return source, target


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A GET-list window: last_updated in [date_from, date_to), then offset/limit (limit capped)."""

    date_from: datetime | None
    date_to: datetime | None
    offset: int
    limit: int


def link_next(base_url: str, page: PageRequest, total: int, returned: int) -> str | None:
    """The `Link` header for the next page (repeating every filter and the limit), or None at the end."""
    next_offset = page.offset + returned
    if returned == 0 or next_offset >= total:
        return None
    params: dict[str, str] = {}
    if page.date_from is not None:
        params["date_from"] = format_datetime(page.date_from)
    if page.date_to is not None:
        params["date_to"] = format_datetime(page.date_to)
    params["offset"] = str(next_offset)
    params["limit"] = str(page.limit)
    return f'<{base_url}?{urlencode(params)}>; rel="next"'


def parse_link_next(header: str | None) -> str | None:
    """The URL of rel="next" in a Link header."""
    if not header:
        return None
    for part in header.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return url.strip().strip("<>")
    return None

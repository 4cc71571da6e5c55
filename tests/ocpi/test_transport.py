"""Transport helpers: token encodings, the envelope, routing headers, Link."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voltbridge.ocpi.registration import choose_version
from voltbridge.ocpi.transport import (
    PageRequest,
    Party,
    TokenEncoding,
    authorization_header,
    envelope,
    link_next,
    parse_envelope,
    parse_link_next,
    routing_from,
    routing_headers,
    token_candidates,
)


def test_token_is_base64_for_221_and_plain_for_211_by_default() -> None:
    assert authorization_header("example-token", TokenEncoding.AUTO, "2.2.1") == "Token ZXhhbXBsZS10b2tlbg=="
    assert authorization_header("example-token", TokenEncoding.AUTO, "2.1.1") == "Token example-token"
    assert authorization_header("example-token", TokenEncoding.PLAIN, "2.2.1") == "Token example-token"


@pytest.mark.parametrize(
    ("header", "encoding", "expected"),
    [
        ("Token ZXhhbXBsZS10b2tlbg==", TokenEncoding.AUTO, ["example-token", "ZXhhbXBsZS10b2tlbg=="]),
        ("Token ZXhhbXBsZS10b2tlbg==", TokenEncoding.BASE64, ["example-token"]),
        ("Token ZXhhbXBsZS10b2tlbg==", TokenEncoding.PLAIN, ["ZXhhbXBsZS10b2tlbg=="]),
        ("Token example-token", TokenEncoding.AUTO, ["example-token"]),
        ("token  spaced ", TokenEncoding.PLAIN, ["spaced"]),
        ("Bearer x", TokenEncoding.AUTO, []),
        (None, TokenEncoding.AUTO, []),
        # The 2.3.0 spec example decodes to a token with a newline: not a printable token.
        ("Token ZXhhbXBsZS10b2tlbgo=", TokenEncoding.BASE64, []),
    ],
)
def test_incoming_token_readings(header: str | None, encoding: TokenEncoding, expected: list[str]) -> None:
    assert token_candidates(header, encoding) == expected


def test_envelope_round_trip_and_errors() -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = envelope({"a": 1}, now=now)
    assert body == {"status_code": 1000, "data": {"a": 1}, "timestamp": "2025-01-02T03:04:05Z"}
    parsed = parse_envelope(body)
    assert parsed.data == {"a": 1} and parsed.status_code == 1000 and parsed.timestamp == now
    assert parse_envelope({"status_code": "2001", "status_message": "no"}).status_code == 2001
    with pytest.raises(ValueError):
        parse_envelope([1, 2])


def test_routing_headers() -> None:
    headers = routing_headers(Party("NL", "VBR"), Party("DE", "EMS"))
    assert headers == {
        "OCPI-from-country-code": "NL",
        "OCPI-from-party-id": "VBR",
        "OCPI-to-country-code": "DE",
        "OCPI-to-party-id": "EMS",
    }
    assert "OCPI-to-country-code" not in routing_headers(Party("NL", "VBR"), None)  # open routing
    source, target = routing_from({k.lower(): v for k, v in headers.items()})
    assert source == Party("NL", "VBR") and target is not None and target.same(Party("de", "ems"))


def test_link_repeats_filters_and_limit_and_ends_on_the_last_page() -> None:
    page = PageRequest(datetime(2025, 1, 1, tzinfo=UTC), None, 0, 2)
    link = link_next("http://x/ocpi/2.2.1/locations", page, total=5, returned=2)
    assert (
        link
        == '<http://x/ocpi/2.2.1/locations?date_from=2025-01-01T00%3A00%3A00Z&offset=2&limit=2>; rel="next"'
    )
    assert (
        parse_link_next(link)
        == "http://x/ocpi/2.2.1/locations?date_from=2025-01-01T00%3A00%3A00Z&offset=2&limit=2"
    )
    assert link_next("http://x", PageRequest(None, None, 4, 2), total=5, returned=1) is None
    assert link_next("http://x", PageRequest(None, None, 0, 2), total=0, returned=0) is None


def test_version_choice() -> None:
    assert choose_version(("2.2.1", "2.1.1"), ["2.1.1", "2.2.1", "2.3.0"]) == "2.2.1"
    assert choose_version(("2.2.1", "2.1.1"), ["2.1.1"]) == "2.1.1"
    assert choose_version(("2.2.1", "2.1.1"), ["2.2", "2.0"]) is None

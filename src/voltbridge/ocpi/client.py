"""The OCPI client: every call we make to a partner, with its headers, the envelope check and the audit.

Errors from httpx are translated here, once, into `PartnerCallFailed` (STYLE.md 6).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from voltbridge.ocpi.audit import AuditLog, Exchange
from voltbridge.ocpi.errors import PartnerCallFailed
from voltbridge.ocpi.options import OcpiOptions
from voltbridge.ocpi.partners import partner_party
from voltbridge.ocpi.transport import (
    CORRELATION_ID,
    REQUEST_ID,
    Party,
    TokenEncoding,
    authorization_header,
    new_id,
    parse_envelope,
    parse_link_next,
    routing_headers,
)
from voltbridge.store.models.ocpi import OcpiPartner

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    """A partner's answer that passed the checks: HTTP 2xx and an OCPI success code."""

    data: Any
    status_code: int
    status_message: str | None
    http_status: int
    headers: httpx.Headers
    encoding: TokenEncoding  # how the token was written when it was accepted


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to authenticate one call: the token, how to write it, and the protocol version."""

    token: str
    encoding: TokenEncoding
    version: str | None


class OcpiClient:
    """Makes OCPI calls; one shared HTTP connection pool."""

    def __init__(
        self,
        audit: AuditLog,
        options: OcpiOptions,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._audit = audit
        self._options = options
        # 307/308 keep method and body: partners that only route `cdrs/` (trailing slash) redirect
        # there; httpx drops the Authorization header if a redirect leaves the partner's origin.
        self._http = httpx.AsyncClient(
            timeout=options.http_timeout, transport=transport, follow_redirects=True
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def our_party(self) -> Party:
        return Party(self._options.country_code, self._options.party_id)

    async def call(
        self,
        method: str,
        url: str,
        credentials: Credentials,
        *,
        partner_id: int | None = None,
        module: str | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        receiver: Party | None = None,
        routing: bool = False,
        correlation_id: str | None = None,
    ) -> Reply:
        """One OCPI call. Routing headers go only on functional modules (`routing=True`) of 2.2.x.

        With an `auto` token encoding a 401 is retried once with the other way of writing the token.
        Raises PartnerCallFailed when the call did not end in an OCPI success.
        """
        headers = {REQUEST_ID: new_id(), CORRELATION_ID: correlation_id or new_id()}
        if routing and credentials.version != "2.1.1":
            headers.update(routing_headers(self.our_party(), receiver))
        encodings = [credentials.encoding]
        if credentials.encoding is TokenEncoding.AUTO:
            first_plain = credentials.version == "2.1.1"
            encodings = (
                [TokenEncoding.PLAIN, TokenEncoding.BASE64]
                if first_plain
                else [
                    TokenEncoding.BASE64,
                    TokenEncoding.PLAIN,
                ]
            )
        last: PartnerCallFailed | None = None
        for encoding in encodings:
            headers["Authorization"] = authorization_header(credentials.token, encoding, credentials.version)
            try:
                return await self._once(method, url, headers, json, params, partner_id, module, encoding)
            except PartnerCallFailed as exc:
                last = exc
                if exc.http_status not in (401, 403):  # extrawest answers 403 where the spec says 401
                    raise
                headers[REQUEST_ID] = new_id()
        assert last is not None
        raise last

    async def _once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        json: Any,
        params: Mapping[str, str] | None,
        partner_id: int | None,
        module: str | None,
        encoding: TokenEncoding,
    ) -> Reply:
        started = time.monotonic()
        http_status: int | None = None
        ocpi_status: int | None = None
        error: str | None = None
        try:
            try:
                response = await self._http.request(method, url, headers=headers, json=json, params=params)
            except httpx.HTTPError as exc:
                error = f"{method} {url}: {type(exc).__name__}: {exc}"
                raise PartnerCallFailed(error, transient=True) from exc
            http_status = response.status_code
            try:
                body = response.json() if response.content else None
            except ValueError:
                body = None
            envelope = None
            if body is not None:
                try:
                    envelope = parse_envelope(body)
                    ocpi_status = envelope.status_code
                except ValueError:
                    envelope = None
            if not 200 <= response.status_code < 300:
                detail = (
                    envelope.status_message if envelope and envelope.status_message else response.text[:300]
                )
                code = f", OCPI status {ocpi_status}" if ocpi_status is not None else ""
                error = f"{method} {url}: HTTP {response.status_code}{code}: {detail}"
                raise PartnerCallFailed(
                    error,
                    http_status=response.status_code,
                    ocpi_status=ocpi_status,
                    transient=response.status_code >= 500 or response.status_code in (408, 429),
                )
            if envelope is None:
                error = f"{method} {url}: the answer is not an OCPI response envelope"
                raise PartnerCallFailed(error, http_status=response.status_code, transient=False)
            if not 1000 <= envelope.status_code < 2000:
                error = (
                    f"{method} {url}: OCPI status {envelope.status_code}"
                    f"{': ' + envelope.status_message if envelope.status_message else ''}"
                )
                raise PartnerCallFailed(
                    error,
                    http_status=response.status_code,
                    ocpi_status=envelope.status_code,
                    transient=envelope.status_code >= 3000,
                )
            return Reply(
                envelope.data,
                envelope.status_code,
                envelope.status_message,
                response.status_code,
                response.headers,
                encoding,
            )
        finally:
            await self._audit.record(
                Exchange(
                    partner_id=partner_id,
                    direction="out",
                    module=module,
                    method=method,
                    url=url,
                    request_id=headers.get(REQUEST_ID),
                    correlation_id=headers.get(CORRELATION_ID),
                    http_status=http_status,
                    ocpi_status=ocpi_status,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    error=error,
                )
            )

    async def to_partner(
        self,
        partner: OcpiPartner,
        method: str,
        url: str,
        *,
        module: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> Reply:
        """A functional-module call to a registered partner with its token C and routing headers."""
        if not partner.token_outgoing:
            raise PartnerCallFailed(
                f"OCPI partner {partner.id} has no token to call it with", transient=False
            )
        return await self.call(
            method,
            url,
            Credentials(partner.token_outgoing, TokenEncoding(partner.token_encoding), partner.version),
            partner_id=partner.id,
            module=module,
            json=json,
            params=params,
            receiver=partner_party(partner),
            routing=True,
            correlation_id=correlation_id,
        )

    async def pages(
        self, partner: OcpiPartner, url: str, *, module: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[list[Any]]:
        """Every page of a partner's GET list, following `Link: rel="next"` (bounded to 10 000 pages)."""
        next_url: str | None = url
        next_params = params
        for _ in range(10_000):
            if next_url is None:
                return
            reply = await self.to_partner(partner, "GET", next_url, module=module, params=next_params)
            yield list(reply.data or [])
            next_url = parse_link_next(reply.headers.get("Link"))
            next_params = None  # the Link repeats every filter

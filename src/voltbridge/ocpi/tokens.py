"""Tokens receiver (the eMSPs' tokens cache) and the authority that lets those tokens charge here.

Authorization of an OCPI token at a charger (OCPI-NOTES 4.1):
- whitelist ALWAYS or ALLOWED: decided from the cache at once (auth method WHITELIST);
- ALLOWED_OFFLINE or NEVER: real-time authorization at the token's eMSP, bounded by
  `realtime_auth_timeout`; when the eMSP cannot be reached in time, ALLOWED_OFFLINE tokens that are
  valid in the cache are accepted (offline policy `whitelist`) and NEVER tokens refused.
Every accepted decision is remembered (`OcpiPendingStart`) so the session that follows carries the
token, the auth method and the eMSP's authorization_reference.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select

from voltbridge.core.authorization import AuthorizationRequest
from voltbridge.core.clock import Clock
from voltbridge.core.tokens.service import IdTagInfo
from voltbridge.ocpi.client import OcpiClient
from voltbridge.ocpi.errors import ClientError, InvalidParameters, PartnerCallFailed
from voltbridge.ocpi.options import OcpiOptions, OfflinePolicy
from voltbridge.ocpi.partners import REGISTERED, PartnerRegistry, endpoint_url, owns_party
from voltbridge.ocpi.sources import LocationSource
from voltbridge.ocpi.types import InterfaceRole, ModuleID, parse_datetime
from voltbridge.ocpi.v221.sessions import AuthMethod
from voltbridge.ocpi.v221.tokens import AllowedType, AuthorizationInfo, Token, TokenType, WhitelistType
from voltbridge.store import Database
from voltbridge.store.models.ocpi import OcpiPartner, OcpiPendingStart, OcpiToken

log = logging.getLogger(__name__)

_ALLOWED_TO_OCPP = {
    AllowedType.ALLOWED: "Accepted",
    AllowedType.BLOCKED: "Blocked",
    AllowedType.EXPIRED: "Expired",
    AllowedType.NO_CREDIT: "Invalid",
    AllowedType.NOT_ALLOWED: "Invalid",
}


@dataclass(frozen=True, slots=True)
class CachedToken:
    """A token from the cache and the partner that pushed it."""

    partner_id: int
    token: Token


def cdr_token(token: Token) -> dict[str, Any]:
    """The CdrToken of a Token."""
    return {
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.uid,
        "type": str(token.type),
        "contract_id": token.contract_id,
    }


class TokenStore:
    """The Tokens receiver: PUT/PATCH/GET under /{country_code}/{party_id}/{uid}?type=."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def get(
        self, partner: OcpiPartner, country_code: str, party_id: str, uid: str, type: TokenType
    ) -> dict[str, Any] | None:
        _check_party(partner, country_code, party_id)
        row = await self._row(country_code, party_id, uid, type)
        return row.data if row is not None and row.partner_id == partner.id else None

    async def put(
        self, partner: OcpiPartner, country_code: str, party_id: str, uid: str, type: TokenType, body: object
    ) -> bool:
        """Store a full Token; True when it was new. Ids in the body must match the URL (else 2001)."""
        _check_party(partner, country_code, party_id)
        try:
            token = Token.model_validate(body)
        except ValidationError as exc:
            raise InvalidParameters(f"invalid Token: {exc}") from exc
        for name, expected, got in (
            ("country_code", country_code, token.country_code),
            ("party_id", party_id, token.party_id),
            ("uid", uid, token.uid),
        ):
            if expected.casefold() != got.casefold():
                raise InvalidParameters(f"the Token's {name} {got!r} differs from the URL's {expected!r}")
        if token.type != type:
            raise InvalidParameters(f"the Token's type {token.type} differs from the URL's {type}")
        return await self._store(partner.id, token)

    async def patch(
        self, partner: OcpiPartner, country_code: str, party_id: str, uid: str, type: TokenType, body: object
    ) -> None:
        """Merge fields into a stored Token; `last_updated` is required, and an older one is ignored."""
        _check_party(partner, country_code, party_id)
        if not isinstance(body, dict) or "last_updated" not in body:
            raise InvalidParameters("a PATCH needs last_updated")
        for key in ("country_code", "party_id", "uid", "type"):
            if (
                key in body
                and str(body[key]).casefold()
                != str(
                    {"country_code": country_code, "party_id": party_id, "uid": uid, "type": type}[key]
                ).casefold()
            ):
                raise InvalidParameters(f"a PATCH may not change {key}")
        row = await self._row(country_code, party_id, uid, type)
        if row is None or row.partner_id != partner.id:
            raise ClientError(
                f"token {country_code}/{party_id}/{uid} ({type}) is unknown; PUT it first", http_status=404
            )
        try:
            if parse_datetime(body["last_updated"]) < row.last_updated:
                return  # a replay of an older update: the stored state is newer
            token = Token.model_validate({**row.data, **body})
        except (ValidationError, ValueError) as exc:
            raise InvalidParameters(f"the patched Token is invalid: {exc}") from exc
        await self._store(partner.id, token)

    async def find(self, uid: str) -> list[CachedToken]:
        """Every cached token with this uid (an idTag at the charger), valid or not."""
        async with self._db.read() as session:
            rows = (await session.scalars(select(OcpiToken).where(OcpiToken.uid_key == uid.casefold()))).all()
            partners = {
                p.id: p
                for p in (
                    await session.scalars(
                        select(OcpiPartner).where(OcpiPartner.id.in_({r.partner_id for r in rows}))
                    )
                ).all()
            }
        return [
            CachedToken(r.partner_id, Token.model_validate(r.data))
            for r in rows
            if partners.get(r.partner_id) is not None and partners[r.partner_id].status == REGISTERED
        ]

    async def _row(self, country_code: str, party_id: str, uid: str, type: TokenType) -> OcpiToken | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(OcpiToken).where(
                    OcpiToken.country_code_key == country_code.casefold(),
                    OcpiToken.party_id_key == party_id.casefold(),
                    OcpiToken.uid_key == uid.casefold(),
                    OcpiToken.type == str(type),
                )
            )

    async def _store(self, partner_id: int, token: Token) -> bool:
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(OcpiToken).where(
                    OcpiToken.country_code_key == token.country_code.casefold(),
                    OcpiToken.party_id_key == token.party_id.casefold(),
                    OcpiToken.uid_key == token.uid.casefold(),
                    OcpiToken.type == str(token.type),
                )
            )
            created = row is None
            if row is None:
                row = OcpiToken(
                    partner_id=partner_id,
                    country_code_key=token.country_code.casefold(),
                    party_id_key=token.party_id.casefold(),
                    uid_key=token.uid.casefold(),
                    type=str(token.type),
                )
                session.add(row)
            row.partner_id = partner_id
            row.valid = token.valid
            row.whitelist = str(token.whitelist)
            row.data = token.to_wire()
            row.last_updated = token.last_updated
        return created


def _check_party(partner: OcpiPartner, country_code: str, party_id: str) -> None:
    # A party that is not one of the caller's roles gets 404 (the spec allows hiding other parties).
    if not owns_party(partner, country_code, party_id):
        raise ClientError(f"{country_code}/{party_id} is not one of your parties", http_status=404)


class OcpiAuthority:
    """An `Authority` for AuthorizationService: OCPI tokens are decided here, every other idTag by the
    platform's own rules (`platform` is AuthorizationService.platform_decision)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        options: OcpiOptions,
        tokens: TokenStore,
        registry: PartnerRegistry,
        client: OcpiClient,
        locations: LocationSource,
        platform: Callable[[str, str], Awaitable[IdTagInfo]],
    ) -> None:
        self._db = db
        self._clock = clock
        self._options = options
        self._tokens = tokens
        self._registry = registry
        self._client = client
        self._locations = locations
        self._platform = platform
        self.realtime_requests = 0
        self.offline_decisions = 0

    def decides_for(self, station_id: str) -> bool:
        return True

    async def decide(self, request: AuthorizationRequest) -> IdTagInfo:
        if await self._commanded(request.station_id, request.id_tag):
            # START_SESSION / RESERVE_NOW: the eMSP authorized this token for this charger already.
            return IdTagInfo("Accepted", reason="started by the eMSP (OCPI command)")
        cached = await self._tokens.find(request.id_tag)
        if not cached:
            return await self._platform(request.station_id, request.id_tag)
        # Several eMSPs could share a uid: a valid one wins.
        entry = next((c for c in cached if c.token.valid), cached[0])
        token = entry.token
        if not token.valid:
            return IdTagInfo("Invalid", reason=f"OCPI token {token.uid} is not valid")
        if token.whitelist in (WhitelistType.ALWAYS, WhitelistType.ALLOWED):
            await self._remember(entry, request, AuthMethod.WHITELIST, None)
            return IdTagInfo("Accepted", parent_id_tag=_group(token))
        partner = await self._registry.get(entry.partner_id)
        try:
            async with asyncio.timeout(self._options.realtime_auth_timeout):
                info = await self._realtime(partner, token, request.station_id)
        except (TimeoutError, PartnerCallFailed, ValidationError) as exc:
            self.offline_decisions += 1
            log.warning("real-time authorization of %s at eMSP %s failed (%r)", token.uid, partner.id, exc)
            if (
                token.whitelist is WhitelistType.ALLOWED_OFFLINE
                and self._options.offline_policy is OfflinePolicy.WHITELIST
            ):
                await self._remember(entry, request, AuthMethod.WHITELIST, None)
                return IdTagInfo(
                    "Accepted", parent_id_tag=_group(token), reason="eMSP unreachable; whitelisted offline"
                )
            return IdTagInfo("Invalid", reason="eMSP unreachable and the token may not be used offline")
        status = _ALLOWED_TO_OCPP[info.allowed]
        if status == "Accepted":
            await self._remember(entry, request, AuthMethod.AUTH_REQUEST, info.authorization_reference)
        return IdTagInfo(status, parent_id_tag=_group(token), reason=f"eMSP answered {info.allowed}")

    async def _commanded(self, station_id: str, id_tag: str) -> bool:
        async with self._db.read() as session:
            found = await session.scalar(
                select(OcpiPendingStart.id).where(
                    OcpiPendingStart.station_id == station_id,
                    OcpiPendingStart.id_tag == id_tag,
                    OcpiPendingStart.auth_method == str(AuthMethod.COMMAND),
                    OcpiPendingStart.expires_at >= self._clock.now(),
                )
            )
        return found is not None

    async def _realtime(self, partner: OcpiPartner, token: Token, station_id: str) -> AuthorizationInfo:
        url = endpoint_url(partner, ModuleID.TOKENS, InterfaceRole.SENDER)
        if url is None:
            raise PartnerCallFailed(f"eMSP {partner.id} has no tokens Sender endpoint", transient=False)
        self.realtime_requests += 1
        evses = await self._locations.evses_at(station_id)
        body = None
        if evses:
            body = {"location_id": evses[0].location_id, "evse_uids": [e.evse_uid for e in evses]}
        reply = await self._client.to_partner(
            partner,
            "POST",
            f"{url.rstrip('/')}/{token.uid}/authorize",
            module="tokens",
            json=body,
            params={"type": str(token.type)},
        )
        data = reply.data
        if isinstance(data, list) and len(data) == 1:
            data = data[0]  # some implementations (extrawest-ocpi) wrap single objects in a list
        return AuthorizationInfo.model_validate(data)

    async def _remember(
        self, entry: CachedToken, request: AuthorizationRequest, method: AuthMethod, reference: str | None
    ) -> None:
        await remember_start(
            self._db,
            self._clock,
            partner_id=entry.partner_id,
            station_id=request.station_id,
            connector_id=None,
            id_tag=request.id_tag,
            token=cdr_token(entry.token),
            method=method,
            reference=reference,
            ttl=self._options.pending_start_ttl,
        )


def _group(token: Token) -> str | None:
    # OCPP 1.6 parentIdTag is at most 20 characters; a longer group id cannot be carried.
    return token.group_id if token.group_id and len(token.group_id) <= 20 else None


async def remember_start(
    db: Database,
    clock: Clock,
    *,
    partner_id: int,
    station_id: str,
    connector_id: int | None,
    id_tag: str,
    token: dict[str, Any],
    method: AuthMethod,
    reference: str | None,
    ttl: int,
) -> None:
    """Note who is about to start a session at a station (replacing an older note for the same idTag)."""
    now = clock.now()
    async with db.transaction() as session:
        await session.execute(
            delete(OcpiPendingStart).where(
                OcpiPendingStart.station_id == station_id, OcpiPendingStart.id_tag == id_tag
            )
        )
        await session.execute(delete(OcpiPendingStart).where(OcpiPendingStart.expires_at < now))
        session.add(
            OcpiPendingStart(
                partner_id=partner_id,
                station_id=station_id,
                connector_id=connector_id,
                id_tag=id_tag,
                cdr_token=token,
                auth_method=str(method),
                authorization_reference=reference,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )

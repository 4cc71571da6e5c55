"""The partner registry: who we roam with, the tokens in both directions, their version and endpoints."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.ocpi.transport import Party, TokenEncoding, token_candidates
from voltbridge.ocpi.types import InterfaceRole, ModuleID
from voltbridge.store import Database
from voltbridge.store.models.ocpi import OcpiPartner

PENDING = "pending"  # created; waits for the partner to register with us, or for us to register
REGISTERED = "registered"
SUSPENDED = "suspended"  # registered, but we neither push to nor accept calls from it
UNREGISTERED = "unregistered"

FUNCTIONAL_ROLES = ("EMSP", "HUB", "NSP", "SCSP", "NAP", "OTHER", "CPO")


def new_credentials_token() -> str:
    """A fresh credentials token: 43 URL-safe characters, well inside string(64)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who sent an incoming request, and whether it used token A (registration only)."""

    partner: OcpiPartner
    with_token_a: bool


def endpoint_url(partner: OcpiPartner, module: ModuleID | str, role: InterfaceRole | None) -> str | None:
    """The partner's URL for a module (and, on 2.2.x, the interface role); None if it has none."""
    for endpoint in partner.endpoints or []:
        if endpoint.get("identifier") != str(module):
            continue
        if role is None or endpoint.get("role") in (None, str(role)):
            url = endpoint.get("url")
            return str(url) if url else None
    return None


def partner_party(partner: OcpiPartner) -> Party | None:
    """The party we address the partner as in routing headers: its eMSP role, else its hub role."""
    roles = partner.roles or []
    for wanted in FUNCTIONAL_ROLES:
        for role in roles:
            if role.get("role") == wanted and role.get("country_code") and role.get("party_id"):
                return Party(str(role["country_code"]), str(role["party_id"]))
    return None


def is_hub(partner: OcpiPartner) -> bool:
    """Whether the partner is a hub (then pushes are broadcast through it)."""
    return any(role.get("role") == "HUB" for role in partner.roles or [])


def owns_party(partner: OcpiPartner, country_code: str, party_id: str) -> bool:
    """Whether the (country, party) is one of the partner's roles (or any party, for a hub)."""
    if is_hub(partner):
        return True
    wanted = Party(country_code, party_id)
    return any(
        Party(str(role.get("country_code", "")), str(role.get("party_id", ""))).same(wanted)
        for role in partner.roles or []
    )


class PartnerRegistry:
    """Partners and their credentials. Registration itself lives in `registration.py`."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        name: str,
        *,
        versions_url: str | None = None,
        token_a: str | None = None,
        token_encoding: TokenEncoding = TokenEncoding.AUTO,
    ) -> OcpiPartner:
        """A new partner. Without `versions_url` we issue a token A the partner registers with; with one,
        `token_a` is the partner's token A that we will register with (see Registration.register)."""
        if not name or len(name) > 100:
            raise InvalidInput("partner name must be 1 to 100 characters")
        if versions_url is not None and not token_a:
            raise InvalidInput("registering with a partner needs its token_a together with versions_url")
        if token_a is not None and len(token_a) > 64:
            raise InvalidInput("token_a is at most 64 characters")
        now = self._clock.now()
        partner = OcpiPartner(
            name=name,
            status=PENDING,
            token_encoding=str(token_encoding),
            endpoints=[],
            roles=[],
            created_at=now,
            updated_at=now,
        )
        if versions_url is None:
            partner.token_a = new_credentials_token()
        else:
            partner.versions_url = versions_url
            partner.token_outgoing = token_a
        async with self._db.transaction() as session:
            session.add(partner)
        return partner

    async def get(self, partner_id: int) -> OcpiPartner:
        async with self._db.read() as session:
            partner = await session.get(OcpiPartner, partner_id)
            if partner is None:
                raise NotFound(f"OCPI partner {partner_id} does not exist")
            return partner

    async def get_all(self, *, limit: int = 100, offset: int = 0) -> tuple[Sequence[OcpiPartner], int]:
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(OcpiPartner)) or 0
            rows = await session.scalars(
                select(OcpiPartner).order_by(OcpiPartner.id).limit(limit).offset(offset)
            )
            return rows.all(), total

    async def registered(self) -> Sequence[OcpiPartner]:
        """Partners we exchange data with now (registered, not suspended)."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(OcpiPartner).where(OcpiPartner.status == REGISTERED).order_by(OcpiPartner.id)
            )
            return rows.all()

    async def authenticate(self, header: str | None) -> Authenticated | None:
        """The partner whose credentials token the Authorization header carries, read with that
        partner's token encoding (Base64, plain, or either)."""
        candidates = token_candidates(header, TokenEncoding.AUTO)
        if not candidates:
            return None
        async with self._db.read() as session:
            rows = (
                await session.scalars(
                    select(OcpiPartner).where(
                        or_(
                            OcpiPartner.token_incoming.in_(candidates),
                            OcpiPartner.token_incoming_previous.in_(candidates),
                            OcpiPartner.token_a.in_(candidates),
                        )
                    )
                )
            ).all()
        for partner in rows:
            if partner.status == UNREGISTERED:
                continue
            readings = token_candidates(header, TokenEncoding(partner.token_encoding))
            if any(t in readings for t in (partner.token_incoming, partner.token_incoming_previous) if t):
                return Authenticated(partner, with_token_a=False)
            if partner.token_a and partner.token_a in readings:
                return Authenticated(partner, with_token_a=True)
        return None

    async def update(self, partner_id: int, **fields: Any) -> OcpiPartner:
        """Change stored fields of a partner (used by registration and the API)."""
        async with self._db.transaction() as session:
            partner = await session.get(OcpiPartner, partner_id)
            if partner is None:
                raise NotFound(f"OCPI partner {partner_id} does not exist")
            for key, value in fields.items():
                if not hasattr(partner, key):
                    raise InvalidInput(f"unknown partner field {key!r}")
                setattr(partner, key, value)
            partner.updated_at = self._clock.now()
        return partner

    async def suspend(self, partner_id: int) -> OcpiPartner:
        partner = await self.get(partner_id)
        if partner.status != REGISTERED:
            raise Conflict(
                f"OCPI partner {partner_id} is {partner.status}; only a registered one is suspended"
            )
        return await self.update(partner_id, status=SUSPENDED)

    async def resume(self, partner_id: int) -> OcpiPartner:
        partner = await self.get(partner_id)
        if partner.status != SUSPENDED:
            raise Conflict(f"OCPI partner {partner_id} is {partner.status}, not suspended")
        return await self.update(partner_id, status=REGISTERED)

    async def delete(self, partner_id: int) -> None:
        async with self._db.transaction() as session:
            partner = await session.get(OcpiPartner, partner_id)
            if partner is None:
                raise NotFound(f"OCPI partner {partner_id} does not exist")
            await session.delete(partner)

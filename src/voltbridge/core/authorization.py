"""Who decides whether a driver may charge, and what the charger is told.

The platform decides by default (TokenService plus the rules below). When a station has an external
authority (a Billing upstream of the multiplexer), that authority's answer is the one the charger
gets; if it does not answer within the bounded wait, the configured fallback decides and the
fallback is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from voltbridge.core.tokens.service import IdTagInfo, TokenService

log = logging.getLogger(__name__)


class Purpose(StrEnum):
    AUTHORIZE = "Authorize"
    START = "StartTransaction"


class Fallback(StrEnum):
    """What to do when the external authority does not answer in time."""

    LOCAL = "local"  # the platform's own decision (its token list)
    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    station_id: str
    id_tag: str
    purpose: Purpose
    payload: dict[str, Any]  # the charger's CALL payload, for an authority that needs all of it


@dataclass(frozen=True, slots=True)
class Decision:
    info: IdTagInfo
    decided_by: str  # "platform", "upstream:<id>", "fallback:<policy>"


class Authority(Protocol):
    """An external decider for a station (the multiplexer's Billing upstream)."""

    def decides_for(self, station_id: str) -> bool:
        """Whether this authority is in charge of the station right now."""
        ...

    async def decide(self, request: AuthorizationRequest) -> IdTagInfo:
        """Ask the authority; may take long or raise. The caller bounds the wait."""
        ...


class StationRule(Protocol):
    """A platform rule that may refuse a token at a particular station (e.g. private networks)."""

    async def refuse(self, station_id: str, id_tag: str) -> str | None:
        """A reason to refuse, or None to let the token's own status decide."""
        ...


class AuthorizationService:
    """One place that answers 'may this idTag charge here?'."""

    def __init__(
        self,
        tokens: TokenService,
        *,
        authority_timeout: float,
        fallback: Fallback = Fallback.LOCAL,
    ) -> None:
        self._tokens = tokens
        self._timeout = authority_timeout
        self._fallback = fallback
        self._authorities: list[Authority] = []
        self._rules: list[StationRule] = []
        self.fallbacks_used = 0

    def add_authority(self, authority: Authority) -> None:
        self._authorities.append(authority)

    def add_rule(self, rule: StationRule) -> None:
        self._rules.append(rule)

    async def decide(self, request: AuthorizationRequest) -> Decision:
        authority = next((a for a in self._authorities if a.decides_for(request.station_id)), None)
        if authority is None:
            return Decision(await self.platform_decision(request.station_id, request.id_tag), "platform")
        try:
            async with asyncio.timeout(self._timeout):
                info = await authority.decide(request)
            return Decision(info, "authority")
        except Exception as exc:  # a slow or broken authority must not stall the charger
            self.fallbacks_used += 1
            log.warning(
                "authority for %s did not decide %s for %s (%r); fallback %s",
                request.station_id,
                request.purpose,
                request.id_tag,
                exc,
                self._fallback,
            )
            return Decision(await self._fallback_info(request), f"fallback:{self._fallback}")

    async def platform_decision(self, station_id: str, id_tag: str) -> IdTagInfo:
        info = await self._tokens.authorize(id_tag)
        if not info.accepted:
            return info
        for rule in self._rules:
            reason = await rule.refuse(station_id, id_tag)
            if reason is not None:
                log.info("refused %s at %s: %s", id_tag, station_id, reason)
                return IdTagInfo("Invalid", info.expiry_date, info.parent_id_tag, reason)
        return info

    async def _fallback_info(self, request: AuthorizationRequest) -> IdTagInfo:
        if self._fallback is Fallback.ACCEPT:
            return IdTagInfo("Accepted", reason="authority did not answer; fallback accepts")
        if self._fallback is Fallback.REJECT:
            return IdTagInfo("Invalid", reason="authority did not answer; fallback rejects")
        return await self.platform_decision(request.station_id, request.id_tag)

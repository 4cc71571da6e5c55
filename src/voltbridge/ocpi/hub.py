"""HubClientInfo receiver: which parties a hub connects us with, and whether they are reachable."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from voltbridge.ocpi.errors import InvalidParameters
from voltbridge.ocpi.v221.core import ClientInfo
from voltbridge.store import Database
from voltbridge.store.models.ocpi import OcpiClientInfo, OcpiPartner


class ClientInfoStore:
    """ClientInfo objects a hub PUTs to us, per (country_code, party_id)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, partner: OcpiPartner, country_code: str, party_id: str) -> dict[str, Any] | None:
        row = await self._row(partner.id, country_code, party_id)
        return row.data if row is not None else None

    async def put(self, partner: OcpiPartner, country_code: str, party_id: str, body: object) -> bool:
        """Store a ClientInfo; True when it was new. Ids must match the URL (else 2001)."""
        try:
            info = ClientInfo.model_validate(body)
        except ValidationError as exc:
            raise InvalidParameters(f"invalid ClientInfo: {exc}") from exc
        if (
            info.country_code.casefold() != country_code.casefold()
            or info.party_id.casefold() != party_id.casefold()
        ):
            raise InvalidParameters("the ClientInfo's party differs from the URL's")
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(OcpiClientInfo).where(
                    OcpiClientInfo.partner_id == partner.id,
                    OcpiClientInfo.country_code_key == country_code.casefold(),
                    OcpiClientInfo.party_id_key == party_id.casefold(),
                )
            )
            created = row is None
            if row is None:
                row = OcpiClientInfo(
                    partner_id=partner.id,
                    country_code_key=country_code.casefold(),
                    party_id_key=party_id.casefold(),
                )
                session.add(row)
            elif info.last_updated < row.last_updated:
                return False  # an older state arriving late
            row.data = info.to_wire()
            row.last_updated = info.last_updated
        return created

    async def all_for(self, partner_id: int) -> list[dict[str, Any]]:
        async with self._db.read() as session:
            rows = await session.scalars(
                select(OcpiClientInfo).where(OcpiClientInfo.partner_id == partner_id)
            )
            return [r.data for r in rows.all()]

    async def _row(self, partner_id: int, country_code: str, party_id: str) -> OcpiClientInfo | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(OcpiClientInfo).where(
                    OcpiClientInfo.partner_id == partner_id,
                    OcpiClientInfo.country_code_key == country_code.casefold(),
                    OcpiClientInfo.party_id_key == party_id.casefold(),
                )
            )

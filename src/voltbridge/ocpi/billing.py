"""Adapters over billing (issue 5): its tariff catalog is our TariffSource, its CDRs our CDRs."""

from __future__ import annotations

from typing import Any

from voltbridge.billing import CdrService, ocpi_cdr
from voltbridge.core.errors import NotFound


class BillingCdrSource:
    """`BillingCdrs` over billing's CdrService: the OCPI fields of one of its CDRs."""

    def __init__(self, cdrs: CdrService) -> None:
        self._cdrs = cdrs

    async def ocpi_fields(self, cdr_id: int) -> dict[str, Any] | None:
        try:
            row = await self._cdrs.get(cdr_id)
        except NotFound:
            return None
        return ocpi_cdr(row)

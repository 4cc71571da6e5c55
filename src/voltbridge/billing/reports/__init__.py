"""Billing reports over CDRs: billed revenue, commission on billed revenue, home-charging
reimbursement and the Dutch ERE (summary and sessions). Each is a `Table` for JSON or CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voltbridge.billing.options import EreSettings
from voltbridge.billing.reports.common import ReportRequest, Table
from voltbridge.billing.reports.ere import ere_sessions, ere_summary
from voltbridge.billing.reports.home import home_charging
from voltbridge.billing.reports.revenue import billed_commission, billed_revenue
from voltbridge.core.errors import NotFound
from voltbridge.store import Database

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

NAMES = ("billed-revenue", "billed-commission", "home-charging", "ere", "ere-sessions")


class BillingReports:
    """Runs a billing report by name, in the caller's scope (the whole result, never a page)."""

    def __init__(self, db: Database, ere: EreSettings) -> None:
        self._db = db
        self._ere = ere

    async def run(self, name: str, request: ReportRequest, *, principal: Principal | None = None) -> Table:
        """The report `name` (one of NAMES) for the request."""
        async with self._db.read() as session:
            if name == "billed-revenue":
                return await billed_revenue(session, request, principal)
            if name == "billed-commission":
                return await billed_commission(session, request, principal)
            if name == "home-charging":
                return await home_charging(session, request, principal)
            if name == "ere":
                return await ere_summary(session, request, principal, self._ere)
            if name == "ere-sessions":
                return await ere_sessions(session, request, principal, self._ere)
        raise NotFound(f"report {name!r} does not exist; billing reports are {', '.join(NAMES)}")


__all__ = ["NAMES", "BillingReports", "ReportRequest", "Table"]

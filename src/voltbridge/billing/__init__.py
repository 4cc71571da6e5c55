"""Billing: tariffs and their assignment, running session costs, CDRs, reviews, and billing reports.

What other rooms use is re-exported here; the tariff engine has its own face in `billing.tariffs`.
"""

from voltbridge.billing.catalog import Resolution, Target, TariffService, TariffView
from voltbridge.billing.cdrs import cdr_view, ocpi_cdr
from voltbridge.billing.events import CdrCreated, SessionCostUpdated, SessionHeld, SessionLimitReached
from voltbridge.billing.issuing import CdrFilter, CdrService, Correction
from voltbridge.billing.live import LIMIT_REASON, CostView, SessionCosts
from voltbridge.billing.metering import MeteringFields, MeteringService, check_ean
from voltbridge.billing.options import BillingOptions, EreSettings
from voltbridge.billing.reports import NAMES as REPORT_NAMES
from voltbridge.billing.reports import BillingReports, ReportRequest, Table
from voltbridge.billing.service import Billing
from voltbridge.billing.validation import Flag

__all__ = [
    "LIMIT_REASON",
    "REPORT_NAMES",
    "Billing",
    "BillingOptions",
    "BillingReports",
    "CdrCreated",
    "CdrFilter",
    "CdrService",
    "Correction",
    "CostView",
    "EreSettings",
    "Flag",
    "MeteringFields",
    "MeteringService",
    "ReportRequest",
    "Resolution",
    "SessionCostUpdated",
    "SessionCosts",
    "SessionHeld",
    "SessionLimitReached",
    "Table",
    "Target",
    "TariffService",
    "TariffView",
    "cdr_view",
    "check_ean",
    "ocpi_cdr",
]

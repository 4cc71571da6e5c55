"""Operators, charging areas, drivers, private networks, commission, reports and the audit log.

What other rooms use is re-exported here. Scoping (who sees what) lives in `scope.py` and nowhere else.
"""

from voltbridge.core.operators.areas import AreaFields, AreaService
from voltbridge.core.operators.audit import AuditFilter, AuditService
from voltbridge.core.operators.commission import CommissionService, CommissionTerms
from voltbridge.core.operators.drivers import DriverFields, DriverService, DriverView
from voltbridge.core.operators.money import Money
from voltbridge.core.operators.network import (
    Candidate,
    Member,
    NetworkService,
    PrivateNetworkRule,
    public_stations,
)
from voltbridge.core.operators.operators import (
    NewOperator,
    OperatorFields,
    OperatorService,
    StationSettings,
    session_limit,
)
from voltbridge.core.operators.reports import (
    Per,
    Report,
    ReportName,
    ReportQuery,
    ReportRow,
    ReportService,
    RevenueBasis,
    columns,
)
from voltbridge.core.operators.scope import Scope, scope_of
from voltbridge.core.operators.timezones import GroupBy, check_timezone

__all__ = [
    "AreaFields",
    "AreaService",
    "AuditFilter",
    "AuditService",
    "Candidate",
    "CommissionService",
    "CommissionTerms",
    "DriverFields",
    "DriverService",
    "DriverView",
    "GroupBy",
    "Member",
    "Money",
    "NetworkService",
    "NewOperator",
    "OperatorFields",
    "OperatorService",
    "Per",
    "PrivateNetworkRule",
    "Report",
    "ReportName",
    "ReportQuery",
    "ReportRow",
    "ReportService",
    "RevenueBasis",
    "Scope",
    "StationSettings",
    "check_timezone",
    "columns",
    "public_stations",
    "scope_of",
    "session_limit",
]

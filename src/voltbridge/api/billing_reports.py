"""Billing reports under `/api/v1/reports/{name}`: billed-revenue, billed-commission, home-charging,
ere and ere-sessions, as JSON or CSV (`format=csv`), scoped like every report.

They share the path of the operators' reports (consumption, revenue, commission): each name here is
its own route, and this router is included before theirs, so their `/reports/{name}` keeps the
other names. Parameters follow theirs (`from`, `to`, `group_by`, `per`, `operator_id`, `area_id`,
`station_id`, `format`), plus each report's own:

- home-charging: `mode` (fixed | tariff), `price_per_kwh`, `max_price_per_kwh`, `monthly_cap`,
  `mid_only`, `currency`, `per` (employee | driver); always per month.
- ere, ere-sessions: `year` (a delivery year, instead of `from`/`to`), `renewable_share`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from voltbridge.api.deps import CurrentPrincipal, authenticated
from voltbridge.api.reports import parse_bound
from voltbridge.api.tariffs import BillingDep
from voltbridge.billing import REPORT_NAMES, ReportRequest, Table
from voltbridge.core.errors import InvalidInput
from voltbridge.core.operators.timezones import GroupBy

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(authenticated)])

_SUMMARIES = {
    "billed-revenue": "Billed revenue and consumption from CDRs, per operator, area or station",
    "billed-commission": "Operator commission on billed (tariff-priced) revenue",
    "home-charging": "Home-charging reimbursement per employee or driver and month",
    "ere": "Dutch ERE per grid connection (EAN), station and delivery year",
    "ere-sessions": "The sessions behind the ERE report, with why each was excluded",
}


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


Endpoint = Callable[..., Awaitable[Response]]


def _endpoint(name: str) -> Endpoint:
    async def report(
        billing: BillingDep,
        principal: CurrentPrincipal,
        start: Annotated[
            str | None, Query(alias="from", description="date or time with offset (inclusive)")
        ] = None,
        end: Annotated[
            str | None, Query(alias="to", description="date or time with offset (exclusive)")
        ] = None,
        group_by: Annotated[GroupBy, Query(description="local day or month")] = GroupBy.MONTH,
        per: Annotated[
            str | None, Query(description="operator, area or station (home-charging: employee or driver)")
        ] = None,
        operator_id: Annotated[int | None, Query()] = None,
        area_id: Annotated[int | None, Query()] = None,
        station_id: Annotated[str | None, Query()] = None,
        format: Annotated[Format, Query()] = Format.JSON,
        year: Annotated[
            int | None, Query(ge=2000, le=2100, description="a delivery year instead of from/to")
        ] = None,
        mode: Annotated[str | None, Query(description="home-charging: fixed or tariff")] = None,
        price_per_kwh: Annotated[str | None, Query()] = None,
        max_price_per_kwh: Annotated[str | None, Query()] = None,
        monthly_cap: Annotated[str | None, Query()] = None,
        mid_only: Annotated[str | None, Query(description="true: only MID-measured sessions")] = None,
        currency: Annotated[str | None, Query()] = None,
        renewable_share: Annotated[str | None, Query(description="0.45, or 2024:0.40,2025:0.45")] = None,
    ) -> Response:
        if year is not None:
            if start is not None or end is not None:
                raise InvalidInput("give either `year` or `from` and `to`")
            start, end = date(year, 1, 1).isoformat(), date(year + 1, 1, 1).isoformat()
        if start is None or end is None:
            raise InvalidInput("`from` and `to` are required (or `year`)")
        params = {
            k: v
            for k, v in {
                "mode": mode,
                "price_per_kwh": price_per_kwh,
                "max_price_per_kwh": max_price_per_kwh,
                "monthly_cap": monthly_cap,
                "mid_only": mid_only,
                "currency": currency,
                "renewable_share": renewable_share,
            }.items()
            if v is not None
        }
        report_per = per or "operator"
        if name == "home-charging":
            params["per"] = per or "employee"
            report_per = "operator"
        request = ReportRequest(
            start=parse_bound(start, "from"),
            end=parse_bound(end, "to"),
            group_by=group_by,
            per=report_per,
            operator_id=operator_id,
            area_id=area_id,
            station_id=station_id,
            params=params,
        )
        table = await billing.reports.run(name, request, principal=principal)
        if format is Format.CSV:
            filename = f"{name}_{start}_{end}.csv".replace(":", "")
            return Response(
                table.csv(),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return JSONResponse(_json(table, start, end, group_by, per))

    report.__name__ = f"report_{name.replace('-', '_')}"
    return report


def _json(table: Table, start: str, end: str, group_by: GroupBy, per: str | None) -> dict[str, Any]:
    return {
        "report": table.name,
        "from": start,
        "to": end,
        "group_by": group_by.value,
        "per": per,
        "columns": list(table.columns),
        "items": table.rows,
        "total": len(table.rows),
        "notes": table.notes,
    }


for _name in REPORT_NAMES:
    router.add_api_route(
        f"/{_name}",
        _endpoint(_name),
        methods=["GET"],
        summary=_SUMMARIES[_name],
        responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
    )

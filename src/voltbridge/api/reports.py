"""`/api/v1/reports/{name}`: consumption, revenue and commission reports, as JSON or CSV.

`from` and `to` are dates (local midnight in each row's time zone, `to` exclusive) or ISO-8601 times
with an offset. Rows are per local day or month in the operator's time zone, each with its bounds
in UTC and in local time. CSV carries the whole report; so does JSON (reports are not paged).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from voltbridge.api.deps import CurrentPrincipal, authenticated
from voltbridge.api.operators import OperatorServicesDep
from voltbridge.core.errors import InvalidInput
from voltbridge.core.operators import GroupBy, Per, Report, ReportName, ReportQuery, ReportRow, columns
from voltbridge.core.timeutil import iso_utc

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(authenticated)])

REVENUE_NOTE = (
    "revenue is the operator's commission price per kWh times billable kWh plus its price per session "
    "times billable sessions (revenue_basis=commission_prices); tariff-priced revenue replaces it once "
    "tariffs are in place"
)


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


def parse_bound(text: str, name: str) -> date | datetime:
    """A date (YYYY-MM-DD) or an ISO-8601 time with an offset; InvalidInput otherwise."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise InvalidInput(
            f"`{name}` must be a date (2025-10-01) or a time with an offset, not {text!r}"
        ) from exc
    if value.tzinfo is None:
        raise InvalidInput(f"`{name}` needs an offset (2025-10-01T00:00:00+02:00) or is a plain date")
    return value


def value(row: ReportRow, column: str) -> str | int | None:
    """A cell as JSON shows it: energy in Wh as integers, kWh and money as decimal strings, UTC with Z."""
    raw: Any = getattr(row, column)
    if raw is None or isinstance(raw, int | str):
        return raw.value if isinstance(raw, StrEnum) else raw
    if isinstance(raw, Decimal):
        return str(raw)
    if isinstance(raw, datetime):
        return iso_utc(raw)
    return str(raw)


def to_csv(report: Report) -> str:
    """The whole report as CSV with a header line (empty cells for missing values)."""
    names = columns(report.query.name, report.query.per)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for row in report.rows:
        writer.writerow(["" if (v := value(row, c)) is None else v for c in names])
    return out.getvalue()


@router.get(
    "/{name}",
    summary="A consumption, revenue or commission report per operator, area or station",
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def get_report(
    name: ReportName,
    services: OperatorServicesDep,
    principal: CurrentPrincipal,
    start: Annotated[str, Query(alias="from", description="date or time with offset (inclusive)")],
    end: Annotated[str, Query(alias="to", description="date or time with offset (exclusive)")],
    group_by: Annotated[GroupBy, Query(description="local day or month")] = GroupBy.DAY,
    per: Annotated[
        Per, Query(description="one row per operator, area or station (and period)")
    ] = Per.OPERATOR,
    operator_id: Annotated[int | None, Query()] = None,
    area_id: Annotated[int | None, Query()] = None,
    station_id: Annotated[str | None, Query()] = None,
    format: Annotated[Format, Query()] = Format.JSON,
) -> Response:
    query = ReportQuery(
        name=name,
        start=parse_bound(start, "from"),
        end=parse_bound(end, "to"),
        group_by=group_by,
        per=per,
        operator_id=operator_id,
        area_id=area_id,
        station_id=station_id,
    )
    report = await services.reports.report(query, principal=principal)
    if format is Format.CSV:
        filename = f"{name.value}_{start}_{end}_{group_by.value}_{per.value}.csv".replace(":", "")
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    names = columns(name, per)
    body: dict[str, Any] = {
        "report": name.value,
        "from": start,
        "to": end,
        "group_by": group_by.value,
        "per": per.value,
        "columns": list(names),
        "items": [{c: value(row, c) for c in names} for row in report.rows],
        "total": len(report.rows),
    }
    if name is not ReportName.CONSUMPTION:
        body["revenue_note"] = REVENUE_NOTE
    return JSONResponse(body)

"""CDRs, session reviews, a session's running cost, and a station's metering facts.

- `/api/v1/cdrs`: CDRs (never changed; `POST /cdrs/{id}/corrections` answers a credit CDR and the
  CDR that replaces the corrected one). `GET /cdrs/{id}/ocpi` shows the OCPI 2.2.1 fields.
- `/api/v1/session-reviews`: sessions held for review with their reasons; approve or correct them.
- `GET /api/v1/transactions/{id}/cost`: the tariff snapshot and the running (or final) cost.
- `GET/PATCH /api/v1/stations/{id}/metering`: MID meter, bidirectional, home charger, grid EAN.
Money is answered as decimal strings with a currency, energy in Wh, times in UTC with `Z`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, authenticated
from voltbridge.api.tariffs import BillingDep
from voltbridge.api.wire import ListOf, Model, Out, TimeIn, UtcTime
from voltbridge.billing import CdrFilter, Correction, CostView, MeteringFields, cdr_view, ocpi_cdr
from voltbridge.billing.catalog import json_ready
from voltbridge.core.errors import InvalidInput
from voltbridge.store.models.billing import SessionReview, StationMetering

router = APIRouter(dependencies=[Depends(authenticated)])


class CorrectionIn(Model):
    """What to change about a session, and why."""

    note: str = Field(min_length=1, max_length=2000, description="why (audit log and CDR remark)")
    energy_wh: int | None = Field(
        default=None, ge=0, description="the energy to bill instead of the measured"
    )
    started_at: TimeIn | None = None
    stopped_at: TimeIn | None = None
    billable: bool = Field(default=True, description="false: issue a CDR that costs nothing")

    def correction(self) -> Correction:
        return Correction(
            note=self.note,
            energy_wh=self.energy_wh,
            started_at=self.started_at,
            stopped_at=self.stopped_at,
            billable=self.billable,
        )


class ApprovalIn(Model):
    note: str = Field(min_length=1, max_length=2000, description="why the session is fine as recorded")


class ReasonOut(Out):
    code: str
    detail: str


class ReviewOut(Out):
    """A session held for review: why, and what was decided (status pending, approved or corrected)."""

    transaction_id: int
    station_id: str
    operator_id: int | None
    status: Literal["pending", "approved", "corrected"]
    reasons: list[ReasonOut]
    flagged_at: UtcTime
    decided_at: UtcTime | None
    decided_by: str | None
    note: str | None
    correction: dict[str, Any] | None
    cdr_id: int | None


class MoneyOut(Out):
    amount: str
    currency: str


class CostOut(Out):
    """A session's tariff snapshot and its cost so far; `final` once its CDR is issued."""

    transaction_id: int
    tariff_id: int | None
    tariff_ocpi_id: str | None
    tariff_version: int | None
    tariff_level: str | None = Field(description="connector, station or area: where the tariff was assigned")
    currency: str | None
    cost: dict[str, str] | None = Field(description="excl_vat and incl_vat, decimal strings")
    energy_wh: int | None
    as_of: UtcTime | None = Field(description="the newest reading priced")
    final: bool
    session_limit: MoneyOut | None
    limit_reached_at: UtcTime | None
    limit_command_status: str | None
    stop_reason: str | None


class MeteringIn(Model):
    mid_meter: bool | None = None
    mid_meter_serial: str | None = Field(default=None, max_length=64)
    mid_certificate: str | None = Field(default=None, max_length=128, description="certificate reference")
    bidirectional: bool | None = None
    home_charger: bool | None = None
    home_owner: str | None = Field(default=None, max_length=255, description="owner or employee")
    grid_ean: str | None = Field(default=None, description="EAN code (18 digits) of the grid connection")


class MeteringOut(Out):
    station_id: str
    mid_meter: bool
    mid_meter_serial: str | None
    mid_certificate: str | None
    bidirectional: bool
    home_charger: bool
    home_owner: str | None
    grid_ean: str | None


def _places(value: Decimal | None, places: int) -> str | None:
    return None if value is None else str(value.quantize(Decimal(1).scaleb(-places)))


def cost_out(view: CostView, places: int) -> CostOut:
    cost = None
    if view.excl_vat is not None and view.incl_vat is not None:
        cost = {
            "excl_vat": _places(view.excl_vat, places) or "",
            "incl_vat": _places(view.incl_vat, places) or "",
        }
    limit = None
    if view.limit_amount is not None and view.limit_currency is not None:
        limit = MoneyOut(amount=_places(view.limit_amount, 2) or "", currency=view.limit_currency)
    return CostOut(
        transaction_id=view.transaction_id,
        tariff_id=view.tariff_id,
        tariff_ocpi_id=view.tariff_ocpi_id,
        tariff_version=view.tariff_version,
        tariff_level=view.tariff_level,
        currency=view.currency,
        cost=cost,
        energy_wh=view.energy_wh,
        as_of=view.as_of,
        final=view.final,
        session_limit=limit,
        limit_reached_at=view.limit_reached_at,
        limit_command_status=view.limit_command_status,
        stop_reason=view.stop_reason,
    )


def review_out(row: SessionReview) -> ReviewOut:
    return ReviewOut.model_validate(row)


def metering_out(station_id: str, m: StationMetering) -> MeteringOut:
    return MeteringOut(
        station_id=station_id,
        mid_meter=m.mid_meter,
        mid_meter_serial=m.mid_meter_serial,
        mid_certificate=m.mid_certificate,
        bidirectional=m.bidirectional,
        home_charger=m.home_charger,
        home_owner=m.home_owner,
        grid_ean=m.grid_ean,
    )


@router.get("/cdrs", tags=["cdrs"], summary="List CDRs, newest first")
async def list_cdrs(
    billing: BillingDep,
    principal: CurrentPrincipal,
    page: PageDep,
    transaction_id: Annotated[int | None, Query()] = None,
    station_id: Annotated[str | None, Query()] = None,
    operator_id: Annotated[int | None, Query()] = None,
    start_from: Annotated[
        TimeIn | None, Query(alias="from", description="session started at or after")
    ] = None,
    start_to: Annotated[TimeIn | None, Query(alias="to", description="session started before")] = None,
    credit: Annotated[
        bool | None, Query(description="only credit CDRs (true) or only others (false)")
    ] = None,
) -> dict[str, Any]:
    query = CdrFilter(
        transaction_id=transaction_id,
        station_id=station_id,
        operator_id=operator_id,
        start_from=start_from,
        start_to=start_to,
        credit=credit,
    )
    rows, total = await billing.cdrs.get_all(query, principal=principal, limit=page.limit, offset=page.offset)
    return {"items": [cdr_view(r) for r in rows], "total": total}


@router.get("/cdrs/{cdr_id}", tags=["cdrs"], summary="One CDR")
async def get_cdr(cdr_id: int, billing: BillingDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return cdr_view(await billing.cdrs.get(cdr_id, principal=principal))


@router.get("/cdrs/{cdr_id}/ocpi", tags=["cdrs"], summary="A CDR's OCPI 2.2.1 fields (no party or location)")
async def get_cdr_ocpi(cdr_id: int, billing: BillingDep, principal: CurrentPrincipal) -> dict[str, Any]:
    data: dict[str, Any] = json_ready(ocpi_cdr(await billing.cdrs.get(cdr_id, principal=principal)))
    return data


@router.post(
    "/cdrs/{cdr_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    tags=["cdrs"],
    summary="Correct a CDR: a credit CDR for it and a new CDR replacing it",
)
async def correct_cdr(
    cdr_id: int, body: CorrectionIn, billing: BillingDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    credit, new = await billing.cdrs.correct_cdr(cdr_id, body.correction(), actor=principal)
    return {"credit": cdr_view(credit), "cdr": cdr_view(new)}


@router.get("/session-reviews", tags=["cdrs"], summary="Sessions held for review (filter by status)")
async def list_reviews(
    billing: BillingDep,
    principal: CurrentPrincipal,
    page: PageDep,
    status_filter: Annotated[
        Literal["pending", "approved", "corrected"] | None, Query(alias="status")
    ] = None,
) -> ListOf[ReviewOut]:
    rows, total = await billing.cdrs.reviews(
        status=status_filter, principal=principal, limit=page.limit, offset=page.offset
    )
    return ListOf[ReviewOut](items=[review_out(r) for r in rows], total=total)


@router.get("/session-reviews/{transaction_id}", tags=["cdrs"], summary="A held session's review")
async def get_review(transaction_id: int, billing: BillingDep, principal: CurrentPrincipal) -> ReviewOut:
    return review_out(await billing.cdrs.review(transaction_id, principal=principal))


@router.post(
    "/session-reviews/{transaction_id}/approve",
    status_code=status.HTTP_201_CREATED,
    tags=["cdrs"],
    summary="Bill a held session as recorded (answers its CDR)",
)
async def approve_review(
    transaction_id: int, body: ApprovalIn, billing: BillingDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return cdr_view(await billing.cdrs.approve(transaction_id, note=body.note, actor=principal))


@router.post(
    "/session-reviews/{transaction_id}/correct",
    status_code=status.HTTP_201_CREATED,
    tags=["cdrs"],
    summary="Bill a held session with a correction (answers its CDR)",
)
async def correct_review(
    transaction_id: int, body: CorrectionIn, billing: BillingDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return cdr_view(await billing.cdrs.correct(transaction_id, body.correction(), actor=principal))


@router.get(
    "/transactions/{transaction_id}/cost",
    tags=["transactions"],
    summary="A session's tariff snapshot and running (or final) cost",
)
async def get_cost(transaction_id: int, billing: BillingDep, principal: CurrentPrincipal) -> CostOut:
    view = await billing.costs.get(transaction_id, principal=principal)
    return cost_out(view, billing.options.pricing.decimal_places)


@router.get("/stations/{station_id}/metering", tags=["stations"], summary="A station's metering facts")
async def get_metering(station_id: str, billing: BillingDep, principal: CurrentPrincipal) -> MeteringOut:
    return metering_out(station_id, await billing.metering.get(station_id, principal=principal))


@router.patch(
    "/stations/{station_id}/metering",
    tags=["stations"],
    summary="Change a station's metering facts (MID meter, bidirectional, home charger, grid EAN)",
)
async def update_metering(
    station_id: str, body: MeteringIn, billing: BillingDep, principal: CurrentPrincipal
) -> MeteringOut:
    given = body.model_dump(exclude_unset=True)
    for name in ("mid_meter", "bidirectional", "home_charger"):
        if name in given and given[name] is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it")
    fields = MeteringFields(**given)  # type: ignore[typeddict-item]
    return metering_out(station_id, await billing.metering.update(station_id, fields, actor=principal))

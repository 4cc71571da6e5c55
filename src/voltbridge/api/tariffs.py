"""`/api/v1/tariffs` (the OCPI 2.2.1 Tariff shape) and `/api/v1/tariff-assignments`.

A tariff is created and replaced with the OCPI Tariff object as its body (`currency`, `elements`
with `price_components` and `restrictions`, `min_price`, `max_price`, …; `id` optional), plus our
`operator_id` (the owner; an operator's users always create their operator's). Bad input answers
422 naming the path of the bad field. Replacing a tariff saves a new version; running sessions keep
the version they started with. Assignments put a tariff on an area, a station or a connector,
optionally for one operator's private-network drivers only; the most specific one wins.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol, cast

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, authenticated
from voltbridge.api.wire import ListOf, Model, Out, TimeIn, UtcTime
from voltbridge.billing import Billing, Target, TariffView
from voltbridge.core.errors import InvalidInput

router = APIRouter(tags=["tariffs"], dependencies=[Depends(authenticated)])


class BillingServices(Protocol):
    """The part of the running process the billing routes use (App provides it)."""

    @property
    def billing(self) -> Billing: ...


def billing_of(request: Request) -> Billing:
    """The billing services of the running process."""
    return cast(BillingServices, request.app.state.services).billing


BillingDep = Annotated[Billing, Depends(billing_of)]

TariffBody = Annotated[
    dict[str, Any],
    Body(
        description="an OCPI 2.2.1 Tariff object (id optional), plus `operator_id` (ours) for the owner",
        examples=[
            {
                "currency": "EUR",
                "elements": [
                    {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1}]}
                ],
            }
        ],
    ),
]


class TariffOut(Out):
    """A stored tariff: our id, its OCPI id, owner and version, and the OCPI object (`tariff`)."""

    id: int
    ocpi_id: str
    operator_id: int | None
    currency: str
    version: int
    created_at: UtcTime
    updated_at: UtcTime
    tariff: dict[str, Any]


def tariff_out(view: TariffView) -> TariffOut:
    return TariffOut(
        id=view.id,
        ocpi_id=view.ocpi_id,
        operator_id=view.operator_id,
        currency=view.currency,
        version=view.version,
        created_at=view.created_at,
        updated_at=view.updated_at,
        tariff=view.data,
    )


class VersionOut(Out):
    version: int
    created_at: UtcTime
    created_by: str
    tariff: dict[str, Any] = Field(validation_alias="data")


class AssignmentIn(Model):
    """Exactly one of `area_id` or `station_id` (with `connector_id` for one connector)."""

    tariff_id: int
    area_id: int | None = None
    station_id: str | None = Field(default=None, min_length=1, max_length=64)
    connector_id: int | None = Field(default=None, ge=1)
    driver_group_operator_id: int | None = Field(
        default=None, description="only for members of this operator's private network"
    )


class AssignmentOut(Out):
    id: int
    tariff_id: int
    area_id: int | None
    station_id: str | None
    connector_id: int | None
    driver_group_operator_id: int | None
    created_at: UtcTime
    created_by: str


class ResolutionOut(Out):
    """The tariff that would price a session starting then, and the level of the assignment that won."""

    tariff: TariffOut | None
    level: str | None
    assignment_id: int | None
    driver_group_operator_id: int | None


def _operator_of(body: dict[str, Any]) -> int | None:
    raw = body.get("operator_id")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInput(f"operator_id: expected an integer, got {raw!r}")
    return raw


@router.post(
    "/tariffs", status_code=status.HTTP_201_CREATED, summary="Create a tariff (OCPI 2.2.1 Tariff shape)"
)
async def create_tariff(body: TariffBody, billing: BillingDep, principal: CurrentPrincipal) -> TariffOut:
    view = await billing.tariffs.create(body, operator_id=_operator_of(body), actor=principal)
    return tariff_out(view)


@router.get("/tariffs", summary="List tariffs (an operator's users see the platform's and their own)")
async def list_tariffs(
    billing: BillingDep,
    principal: CurrentPrincipal,
    page: PageDep,
    operator_id: Annotated[int | None, Query()] = None,
) -> ListOf[TariffOut]:
    rows, total = await billing.tariffs.get_all(
        principal=principal, operator_id=operator_id, limit=page.limit, offset=page.offset
    )
    return ListOf[TariffOut](items=[tariff_out(v) for v in rows], total=total)


@router.get("/tariffs/resolve", summary="Which tariff would price a session on this connector")
async def resolve_tariff(
    billing: BillingDep,
    principal: CurrentPrincipal,
    station_id: Annotated[str, Query()],
    connector_id: Annotated[int, Query(ge=1)] = 1,
    id_tag: Annotated[str | None, Query(description="the driver's token (for driver-group tariffs)")] = None,
    at: Annotated[TimeIn | None, Query(description="the session start (default now)")] = None,
) -> ResolutionOut:
    found = await billing.tariffs.resolve(station_id, connector_id, id_tag=id_tag, at=at, principal=principal)
    if found is None:
        return ResolutionOut(tariff=None, level=None, assignment_id=None, driver_group_operator_id=None)
    return ResolutionOut(
        tariff=tariff_out(found.tariff),
        level=found.level,
        assignment_id=found.assignment_id,
        driver_group_operator_id=found.driver_group_operator_id,
    )


@router.get("/tariffs/{tariff_id}", summary="One tariff")
async def get_tariff(tariff_id: int, billing: BillingDep, principal: CurrentPrincipal) -> TariffOut:
    return tariff_out(await billing.tariffs.get(tariff_id, principal=principal))


@router.put("/tariffs/{tariff_id}", summary="Replace a tariff (saved as a new version)")
async def replace_tariff(
    tariff_id: int, body: TariffBody, billing: BillingDep, principal: CurrentPrincipal
) -> TariffOut:
    return tariff_out(await billing.tariffs.replace(tariff_id, body, actor=principal))


@router.delete(
    "/tariffs/{tariff_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a tariff (409 while it is assigned)",
)
async def delete_tariff(tariff_id: int, billing: BillingDep, principal: CurrentPrincipal) -> Response:
    await billing.tariffs.delete(tariff_id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/tariffs/{tariff_id}/versions", summary="Every version of a tariff, oldest first")
async def list_versions(
    tariff_id: int, billing: BillingDep, principal: CurrentPrincipal
) -> ListOf[VersionOut]:
    rows = await billing.tariffs.versions(tariff_id, principal=principal)
    return ListOf[VersionOut](items=[VersionOut.model_validate(r) for r in rows], total=len(rows))


@router.post(
    "/tariff-assignments",
    status_code=status.HTTP_201_CREATED,
    tags=["tariffs"],
    summary="Assign a tariff to an area, a station or a connector (409 if that target has one)",
)
async def assign_tariff(
    body: AssignmentIn, billing: BillingDep, principal: CurrentPrincipal
) -> AssignmentOut:
    target = Target(area_id=body.area_id, station_id=body.station_id, connector_id=body.connector_id)
    row = await billing.tariffs.assign(
        body.tariff_id, target, driver_group_operator_id=body.driver_group_operator_id, actor=principal
    )
    return AssignmentOut.model_validate(row)


@router.get("/tariff-assignments", summary="List tariff assignments on areas and stations in scope")
async def list_assignments(
    billing: BillingDep,
    principal: CurrentPrincipal,
    page: PageDep,
    tariff_id: Annotated[int | None, Query()] = None,
    station_id: Annotated[str | None, Query()] = None,
    area_id: Annotated[int | None, Query()] = None,
) -> ListOf[AssignmentOut]:
    rows, total = await billing.tariffs.assignments(
        principal=principal,
        tariff_id=tariff_id,
        station_id=station_id,
        area_id=area_id,
        limit=page.limit,
        offset=page.offset,
    )
    return ListOf[AssignmentOut](items=[AssignmentOut.model_validate(r) for r in rows], total=total)


@router.delete(
    "/tariff-assignments/{assignment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a tariff assignment (running sessions keep their snapshot)",
)
async def delete_assignment(assignment_id: int, billing: BillingDep, principal: CurrentPrincipal) -> Response:
    await billing.tariffs.unassign(assignment_id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["BillingDep", "billing_of", "router"]

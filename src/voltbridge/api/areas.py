"""`/api/v1/areas`: charging areas (a parking lot, a building) with their grid connection and owner.

Platform admins manage areas; an operator's users read their operator's areas (others answer 404).
A station's area and visibility are set with `PATCH /api/v1/stations/{id}`.
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, authenticated
from voltbridge.api.operators import DecimalText, OperatorServicesDep
from voltbridge.api.wire import ListOf, Model, Out, UtcTime
from voltbridge.core.errors import InvalidInput
from voltbridge.core.operators import AreaFields
from voltbridge.core.operators.money import decimal
from voltbridge.store.models.operators import Area

router = APIRouter(prefix="/areas", tags=["areas"], dependencies=[Depends(authenticated)])


class AreaBody(Model):
    code: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    operator_id: int | None = Field(default=None, description="the operator that owns the area's stations")
    parent_id: int | None = Field(default=None, description="the area this one is part of")
    timezone: str | None = Field(default=None, description="IANA time zone of the site")
    address: str | None = Field(default=None, max_length=255)
    city: str | None = Field(default=None, max_length=128)
    zip: str | None = Field(default=None, max_length=32)
    country: str | None = Field(default=None, max_length=64)
    latitude: DecimalText | None = None
    longitude: DecimalText | None = None
    grid_limit: DecimalText | None = Field(default=None, description="the grid connection's limit")
    grid_limit_unit: Literal["A", "kW"] | None = Field(default=None, description="A per phase, or kW")


class AreaIn(AreaBody):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)


class AreaOut(Out):
    id: int
    code: str
    name: str
    operator_id: int | None
    parent_id: int | None
    timezone: str | None
    address: str | None
    city: str | None
    zip: str | None
    country: str | None
    latitude: str | None
    longitude: str | None
    grid_limit: str | None
    grid_limit_unit: str | None
    created_at: UtcTime
    updated_at: UtcTime


_DECIMALS = ("latitude", "longitude", "grid_limit")


def area_out(area: Area) -> AreaOut:
    """The wire form of an area (decimals as strings)."""
    fields = {name: getattr(area, name) for name in AreaOut.model_fields}
    for name in _DECIMALS:
        fields[name] = None if fields[name] is None else str(fields[name])
    return AreaOut(**fields)


def _fields(body: AreaBody) -> AreaFields:
    given = body.model_dump(exclude_unset=True)
    for name in ("code", "name"):
        if name in given and given[name] is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it")
    for name in _DECIMALS:
        if given.get(name) is not None:
            given[name] = decimal(given[name], name)
    return cast(AreaFields, given)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a charging area")
async def create_area(body: AreaIn, services: OperatorServicesDep, principal: CurrentPrincipal) -> AreaOut:
    return area_out(await services.areas.create(_fields(body), actor=principal))


@router.get("", summary="List charging areas (an operator's users see their own)")
async def list_areas(
    services: OperatorServicesDep,
    principal: CurrentPrincipal,
    page: PageDep,
    operator_id: Annotated[int | None, Query()] = None,
    parent_id: Annotated[int | None, Query()] = None,
    search: Annotated[str | None, Query(description="in code, name or city")] = None,
) -> ListOf[AreaOut]:
    rows, total = await services.areas.get_all(
        principal=principal,
        operator_id=operator_id,
        parent_id=parent_id,
        search=search,
        limit=page.limit,
        offset=page.offset,
    )
    return ListOf[AreaOut](items=[area_out(a) for a in rows], total=total)


@router.get("/{area_id}", summary="One charging area")
async def get_area(area_id: int, services: OperatorServicesDep, principal: CurrentPrincipal) -> AreaOut:
    return area_out(await services.areas.get(area_id, principal=principal))


@router.patch("/{area_id}", summary="Change a charging area (a parent must not be inside it)")
async def update_area(
    area_id: int, body: AreaBody, services: OperatorServicesDep, principal: CurrentPrincipal
) -> AreaOut:
    return area_out(await services.areas.update(area_id, _fields(body), actor=principal))


@router.delete(
    "/{area_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an empty charging area (409 while it holds stations or sub-areas)",
)
async def delete_area(area_id: int, services: OperatorServicesDep, principal: CurrentPrincipal) -> Response:
    await services.areas.delete(area_id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

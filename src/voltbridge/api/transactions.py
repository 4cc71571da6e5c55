"""`/api/v1/transactions`: charging sessions as chargers reported them, and their meter values."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, ServicesDep, authenticated
from voltbridge.api.wire import ListOf, Out, TimeIn, UtcTime
from voltbridge.core.transactions.service import TransactionFilter

router = APIRouter(prefix="/transactions", tags=["transactions"], dependencies=[Depends(authenticated)])

# Units whose values are energy registers: shown as integers, like every energy the API answers with.
_ENERGY_UNITS = frozenset({"Wh", "varh"})


class TransactionOut(Out):
    """A charging session. Energy in Wh; `flags` say what was odd about it (stop_missing, start_unseen, …)."""

    id: int
    station_id: str
    connector_id: int
    id_tag: str | None
    started_at: UtcTime | None
    stopped_at: UtcTime | None
    meter_start_wh: int | None
    meter_stop_wh: int | None
    energy_wh: int | None
    stop_reason: str | None
    status: Literal["active", "completed"]
    flags: list[str]


class MeterValueOut(Out):
    """One sampled value, normalised to its base unit (Wh, W, A, V, …); `raw` is what the charger sent."""

    at: UtcTime
    connector_id: int
    measurand: str
    phase: str | None
    location: str | None
    context: str | None
    unit: str | None
    value: int | float | None
    raw: str
    signed: dict[str, Any] | None = Field(default=None, description="signed meter data, when sent")


def _meter_value(row: Any) -> MeterValueOut:
    view = MeterValueOut.model_validate(row)
    if view.unit in _ENERGY_UNITS and view.value is not None:
        return view.model_copy(update={"value": round(view.value)})
    return view


@router.get("", summary="List transactions, newest first")
async def list_transactions(
    services: ServicesDep,
    page: PageDep,
    principal: CurrentPrincipal,
    station_id: Annotated[str | None, Query()] = None,
    status: Annotated[Literal["active", "completed"] | None, Query()] = None,
    id_tag: Annotated[str | None, Query()] = None,
    started_from: Annotated[TimeIn | None, Query(alias="from", description="started at or after")] = None,
    started_to: Annotated[TimeIn | None, Query(alias="to", description="started before")] = None,
) -> ListOf[TransactionOut]:
    query = TransactionFilter(
        station_id=station_id,
        status=status,
        id_tag=id_tag,
        started_from=started_from,
        started_to=started_to,
    )
    rows, total = await services.transactions.get_all(
        query, limit=page.limit, offset=page.offset, principal=principal
    )
    return ListOf[TransactionOut](items=[TransactionOut.model_validate(t) for t in rows], total=total)


@router.get("/{transaction_id}", summary="One transaction")
async def get_transaction(
    transaction_id: int, services: ServicesDep, principal: CurrentPrincipal
) -> TransactionOut:
    return TransactionOut.model_validate(await services.transactions.get(transaction_id, principal=principal))


@router.get("/{transaction_id}/meter-values", summary="A transaction's meter values, oldest first")
async def list_meter_values(
    transaction_id: int, services: ServicesDep, page: PageDep, principal: CurrentPrincipal
) -> ListOf[MeterValueOut]:
    rows, total = await services.transactions.meter_values_of(
        transaction_id, limit=page.limit, offset=page.offset, principal=principal
    )
    return ListOf[MeterValueOut](items=[_meter_value(r) for r in rows], total=total)

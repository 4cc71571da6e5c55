"""Commands to chargers (`POST /api/v1/stations/{id}/commands/{Action}`) and the command log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from voltbridge.api.deps import CurrentPrincipal, PageDep, ServicesDep, authenticated
from voltbridge.api.wire import ErrorBody, ListOf, Out, StationErrorBody, UtcTime

router = APIRouter(tags=["commands"], dependencies=[Depends(authenticated)])

ACTION = Path(
    pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$",
    description="the OCPP action, spelled as in the spec, e.g. RemoteStartTransaction",
    examples=["Reset"],
)


class CommandOut(Out):
    """One command sent to a charger and how it ended: pending, answered, callerror, timeout, offline, busy."""

    id: int
    station_id: str
    action: str
    payload: dict[str, Any]
    source: str
    requested_by: str | None
    status: str
    response: dict[str, Any] | None
    error_code: str | None
    error_description: str | None
    created_at: UtcTime
    completed_at: UtcTime | None


@router.post(
    "/stations/{station_id}/commands/{action}",
    summary="Send an OCPP command to a charger and wait for its answer",
    description=(
        "The body is the OCPP payload of the action, exactly as on the wire (camelCase), checked "
        "against the station's OCPP version's schema. The answer is the charger's response payload."
    ),
    responses={
        404: {"model": ErrorBody, "description": "no such station"},
        409: {"model": ErrorBody, "description": "the charger is not connected"},
        422: {"model": ErrorBody, "description": "unknown action or payload that fails the schema"},
        502: {"model": StationErrorBody, "description": "the charger answered with a CALLERROR"},
        503: {"model": ErrorBody, "description": "too many commands already wait for this charger"},
        504: {"model": ErrorBody, "description": "the charger did not answer in time"},
    },
)
async def send_command(
    station_id: str,
    action: Annotated[str, ACTION],
    services: ServicesDep,
    principal: CurrentPrincipal,
    payload: Annotated[dict[str, Any] | None, Body(examples=[{"type": "Soft"}])] = None,
) -> dict[str, Any]:
    return await services.commands.send(
        station_id, action, payload or {}, source="api", requested_by=principal.email, principal=principal
    )


@router.get("/stations/{station_id}/commands", summary="Commands sent to one station, newest first")
async def list_station_commands(
    station_id: str, services: ServicesDep, page: PageDep, principal: CurrentPrincipal
) -> ListOf[CommandOut]:
    entries, total = await services.commands.log(
        station_id=station_id, limit=page.limit, offset=page.offset, principal=principal
    )
    return ListOf[CommandOut](items=[CommandOut.model_validate(e) for e in entries], total=total)


@router.get("/commands", summary="The command log of every station, newest first")
async def list_commands(
    services: ServicesDep,
    page: PageDep,
    principal: CurrentPrincipal,
    station_id: Annotated[str | None, Query(description="only this station's commands")] = None,
) -> ListOf[CommandOut]:
    entries, total = await services.commands.log(
        station_id=station_id, limit=page.limit, offset=page.offset, principal=principal
    )
    return ListOf[CommandOut](items=[CommandOut.model_validate(e) for e in entries], total=total)

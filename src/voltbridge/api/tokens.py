"""`/api/v1/id-tokens`: the RFID cards and app tokens that may start sessions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, ServicesDep, authenticated
from voltbridge.api.wire import ListOf, Model, Out, TimeIn, UtcTime
from voltbridge.core.errors import InvalidInput
from voltbridge.core.tokens.service import TokenChange

router = APIRouter(prefix="/id-tokens", tags=["id-tokens"], dependencies=[Depends(authenticated)])

TokenStatus = Literal["Accepted", "Blocked", "Expired", "Invalid"]


class IdTokenIn(Model):
    """A new id token. `max_concurrent_tx: null` means no limit on simultaneous sessions."""

    uid: str = Field(min_length=1, max_length=36, description="the idTag as chargers send it")
    status: TokenStatus = "Accepted"
    expires_at: TimeIn | None = None
    group_id: str | None = Field(default=None, max_length=36, description="the parent idTag (OCPP 1.6)")
    max_concurrent_tx: int | None = Field(default=1, ge=0)
    description: str | None = Field(default=None, max_length=255)


class IdTokenPatch(Model):
    """Fields to change; a field left out stays. `null` clears expires_at, group_id, description and
    the concurrent-session limit."""

    status: TokenStatus | None = None
    expires_at: TimeIn | None = None
    group_id: str | None = Field(default=None, max_length=36)
    max_concurrent_tx: int | None = Field(default=None, ge=0)
    description: str | None = Field(default=None, max_length=255)


class IdTokenOut(Out):
    uid: str
    status: str
    expires_at: UtcTime | None
    group_id: str | None
    max_concurrent_tx: int | None = Field(description="simultaneous sessions allowed; null: no limit")
    description: str | None
    created_at: UtcTime
    updated_at: UtcTime


def _out(token: object) -> IdTokenOut:
    view = IdTokenOut.model_validate(token)
    # The service stores a cleared description as "", which the wire shows as null.
    return view.model_copy(update={"description": view.description or None})


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an id token")
async def create_token(body: IdTokenIn, services: ServicesDep, principal: CurrentPrincipal) -> IdTokenOut:
    change = TokenChange(
        status=body.status,
        expires_at=body.expires_at,
        group_id=body.group_id,
        # The service reads 0 as "no limit"; the wire says so with null.
        max_concurrent_tx=0 if body.max_concurrent_tx is None else body.max_concurrent_tx,
        description=body.description,
    )
    return _out(await services.tokens.create(body.uid, change, principal=principal))


@router.get("", summary="List id tokens")
async def list_tokens(
    services: ServicesDep,
    page: PageDep,
    principal: CurrentPrincipal,
    search: Annotated[str | None, Query(description="only uids containing this text")] = None,
) -> ListOf[IdTokenOut]:
    tokens, total = await services.tokens.get_all(
        search=search, limit=page.limit, offset=page.offset, principal=principal
    )
    return ListOf[IdTokenOut](items=[_out(t) for t in tokens], total=total)


@router.get("/{uid}", summary="One id token")
async def get_token(uid: str, services: ServicesDep, principal: CurrentPrincipal) -> IdTokenOut:
    return _out(await services.tokens.get(uid, principal=principal))


@router.patch("/{uid}", summary="Change an id token")
async def update_token(
    uid: str, body: IdTokenPatch, services: ServicesDep, principal: CurrentPrincipal
) -> IdTokenOut:
    given = body.model_fields_set
    if "status" in given and body.status is None:
        raise InvalidInput("status cannot be null; leave it out to keep it")
    change = TokenChange(
        status=body.status,
        expires_at=body.expires_at,
        clear_expiry="expires_at" in given and body.expires_at is None,
        group_id="" if "group_id" in given and body.group_id is None else body.group_id,
        max_concurrent_tx=0
        if "max_concurrent_tx" in given and body.max_concurrent_tx is None
        else body.max_concurrent_tx,
        description="" if "description" in given and body.description is None else body.description,
    )
    return _out(await services.tokens.update(uid, change, principal=principal))


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an id token")
async def delete_token(uid: str, services: ServicesDep, principal: CurrentPrincipal) -> Response:
    await services.tokens.delete(uid, principal=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

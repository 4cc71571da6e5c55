"""`/api/v1/audit` (platform admins only): who changed which operator, area, user, membership or setting."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from voltbridge.api.deps import PageDep, admin_only
from voltbridge.api.operators import OperatorServicesDep
from voltbridge.api.wire import ListOf, Out, TimeIn, UtcTime
from voltbridge.core.operators import AuditFilter

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(admin_only)])


class AuditEntryOut(Out):
    """One change: `before` and `after` hold the changed fields only (money and times as strings)."""

    id: int
    at: UtcTime
    actor: str
    actor_user_id: int | None
    entity: str
    entity_id: str
    action: str
    operator_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None


@router.get("", summary="The audit log, newest first")
async def list_audit(
    services: OperatorServicesDep,
    page: PageDep,
    entity: Annotated[
        str | None, Query(description="operator, area, station, user, driver, membership or commission")
    ] = None,
    entity_id: Annotated[str | None, Query()] = None,
    operator_id: Annotated[int | None, Query()] = None,
    actor: Annotated[str | None, Query(description="the e-mail of who made the change")] = None,
    at_from: Annotated[TimeIn | None, Query(alias="from")] = None,
    at_to: Annotated[TimeIn | None, Query(alias="to")] = None,
) -> ListOf[AuditEntryOut]:
    query = AuditFilter(
        entity=entity, entity_id=entity_id, operator_id=operator_id, actor=actor, at_from=at_from, at_to=at_to
    )
    rows, total = await services.audit.get_all(query, limit=page.limit, offset=page.offset)
    return ListOf[AuditEntryOut](items=[AuditEntryOut.model_validate(r) for r in rows], total=total)

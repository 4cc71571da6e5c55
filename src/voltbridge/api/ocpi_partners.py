"""`/api/v1/ocpi/partners`: the eMSPs and hubs we roam with (platform admins only).

- `POST` without `versions_url`: the partner will register with us; the answer carries our `token_a`
  (shown once) and our versions URL to hand over out of band.
- `POST` with `versions_url` and `token_a`: we register with the partner right away (credentials
  Sender); a failure answers 502 with the reason and leaves the partner `pending` for a retry.
- Per partner: status, version, roles, endpoints, rotate, suspend/resume, unregister (DELETE), KPIs,
  the audit log of its calls, and the push outbox (rejected CDRs stay visible there).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import Field

from voltbridge.api.deps import PageDep, admin_only
from voltbridge.api.wire import ListOf, Model, Out, UtcTime
from voltbridge.ocpi import OcpiService
from voltbridge.ocpi.errors import OcpiError, PartnerCallFailed
from voltbridge.ocpi.transport import TokenEncoding
from voltbridge.store.models.ocpi import OcpiPartner

router = APIRouter(prefix="/ocpi/partners", tags=["ocpi"], dependencies=[Depends(admin_only)])


class _HasOcpi(Protocol):
    @property
    def ocpi(self) -> OcpiService: ...


def _ocpi(request: Request) -> OcpiService:
    services: _HasOcpi = request.app.state.services
    return services.ocpi


Ocpi = Annotated[OcpiService, Depends(_ocpi)]


class PartnerIn(Model):
    """A new partner. With `versions_url` and `token_a` we register with it now."""

    name: str = Field(min_length=1, max_length=100)
    versions_url: str | None = Field(default=None, max_length=2048)
    token_a: str | None = Field(default=None, min_length=1, max_length=64)
    token_encoding: Literal["base64", "plain", "auto"] = "auto"


class PartnerPatch(Model):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    token_encoding: Literal["base64", "plain", "auto"] | None = None


class EndpointOut(Out):
    identifier: str
    role: str | None
    url: str


class PartnerOut(Out):
    id: int
    name: str
    status: str
    version: str | None
    versions_url: str | None
    token_encoding: str
    roles: list[dict[str, Any]]
    endpoints: list[EndpointOut]
    registered_at: UtcTime | None
    last_error: str | None
    created_at: UtcTime
    updated_at: UtcTime
    token_a: str | None = Field(
        default=None, description="shown only when created for a partner that registers with us"
    )
    our_versions_url: str | None = None


class KpisOut(Out):
    partner_id: int
    calls_in: int
    calls_out: int
    sync_success_rate: float | None
    pushes_pending: int
    pushes_rejected: int
    command_success_rate: float | None
    cdr_acceptance_rate: float | None
    cdrs_rejected: int
    last_error: str | None
    last_error_at: UtcTime | None


class AuditOut(Out):
    id: int
    direction: str
    module: str | None
    method: str
    url: str
    request_id: str | None
    correlation_id: str | None
    http_status: int | None
    ocpi_status: int | None
    duration_ms: int
    error: str | None
    at: UtcTime


class PushOut(Out):
    id: int
    module: str
    method: str
    path: str
    object_key: str
    status: str
    attempts: int
    next_attempt_at: UtcTime
    last_error: str | None
    http_status: int | None
    ocpi_status: int | None
    created_at: UtcTime
    updated_at: UtcTime


def _out(partner: OcpiPartner, ocpi: OcpiService, *, with_token_a: bool = False) -> PartnerOut:
    view = PartnerOut.model_validate(partner)
    extra: dict[str, Any] = {}
    if with_token_a:
        extra = {"token_a": partner.token_a, "our_versions_url": _versions_url(ocpi)}
    return view.model_copy(update={"token_a": None, **extra})


def _versions_url(ocpi: OcpiService) -> str | None:
    try:
        return ocpi.versions_url()
    except RuntimeError:
        return None


async def _call(coro: Any) -> Any:
    try:
        return await coro
    except (OcpiError, PartnerCallFailed) as exc:
        # The partner, our upstream here, failed or refused: 502 with its reason.
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"the OCPI partner failed: {exc}") from exc


@router.post("", status_code=status.HTTP_201_CREATED, summary="Add an OCPI partner (and register with it)")
async def create_partner(body: PartnerIn, ocpi: Ocpi) -> PartnerOut:
    partner = await ocpi.registry.create(
        body.name,
        versions_url=body.versions_url,
        token_a=body.token_a,
        token_encoding=TokenEncoding(body.token_encoding),
    )
    if body.versions_url is None:
        return _out(partner, ocpi, with_token_a=True)
    partner = await _call(ocpi.register(partner.id))
    return _out(partner, ocpi)


@router.get("", summary="List OCPI partners")
async def list_partners(ocpi: Ocpi, page: PageDep) -> ListOf[PartnerOut]:
    partners, total = await ocpi.registry.get_all(limit=page.limit, offset=page.offset)
    return ListOf[PartnerOut](items=[_out(p, ocpi) for p in partners], total=total)


@router.get("/{partner_id}", summary="One OCPI partner")
async def get_partner(partner_id: int, ocpi: Ocpi) -> PartnerOut:
    return _out(await ocpi.registry.get(partner_id), ocpi)


@router.patch("/{partner_id}", summary="Rename a partner or change how its token is written")
async def patch_partner(partner_id: int, body: PartnerPatch, ocpi: Ocpi) -> PartnerOut:
    fields = body.model_dump(exclude_none=True)
    return _out(await ocpi.registry.update(partner_id, **fields), ocpi)


@router.post("/{partner_id}/register", summary="Retry registering with a pending partner")
async def register_partner(partner_id: int, ocpi: Ocpi) -> PartnerOut:
    return _out(await _call(ocpi.register(partner_id)), ocpi)


@router.post("/{partner_id}/rotate", summary="Rotate the credentials token we issued to the partner")
async def rotate_partner(partner_id: int, ocpi: Ocpi) -> PartnerOut:
    return _out(await _call(ocpi.registration.rotate(partner_id)), ocpi)


@router.post("/{partner_id}/suspend", summary="Stop pushing to and accepting calls from a partner")
async def suspend_partner(partner_id: int, ocpi: Ocpi) -> PartnerOut:
    return _out(await ocpi.registry.suspend(partner_id), ocpi)


@router.post("/{partner_id}/resume", summary="Resume a suspended partner")
async def resume_partner(partner_id: int, ocpi: Ocpi) -> PartnerOut:
    partner = await ocpi.registry.resume(partner_id)
    ocpi.outbox.wake()
    return _out(partner, ocpi)


@router.post("/{partner_id}/sync", summary="Push every Location and Tariff to the partner again")
async def sync_partner(partner_id: int, ocpi: Ocpi) -> dict[str, int]:
    await ocpi.registry.get(partner_id)
    locations = await ocpi.publisher.sync_locations(partner_id)
    tariffs = await ocpi.publisher.sync_tariffs()
    return {"locations": locations, "tariffs": tariffs}


@router.delete("/{partner_id}", summary="Unregister from a partner (credentials DELETE)")
async def unregister_partner(partner_id: int, ocpi: Ocpi) -> PartnerOut:
    return _out(await ocpi.registration.unregister(partner_id), ocpi)


@router.get("/{partner_id}/kpis", summary="Sync, command and CDR success rates and the last error")
async def partner_kpis(partner_id: int, ocpi: Ocpi) -> KpisOut:
    await ocpi.registry.get(partner_id)
    return KpisOut.model_validate(await ocpi.audit.kpis(partner_id))


@router.get("/{partner_id}/audit", summary="OCPI calls with this partner, newest first")
async def partner_audit(
    partner_id: int,
    ocpi: Ocpi,
    page: PageDep,
    direction: Annotated[Literal["in", "out"] | None, Query()] = None,
) -> ListOf[AuditOut]:
    await ocpi.registry.get(partner_id)
    rows, total = await ocpi.audit.entries(
        partner_id=partner_id, direction=direction, limit=page.limit, offset=page.offset
    )
    return ListOf[AuditOut](items=[AuditOut.model_validate(r) for r in rows], total=total)


@router.get("/{partner_id}/pushes", summary="The push outbox of a partner, newest first")
async def partner_pushes(
    partner_id: int,
    ocpi: Ocpi,
    page: PageDep,
    status_filter: Annotated[
        Literal["pending", "done", "rejected", "failed", "superseded"] | None, Query(alias="status")
    ] = None,
) -> ListOf[PushOut]:
    await ocpi.registry.get(partner_id)
    rows, total = await ocpi.outbox.items(
        partner_id=partner_id, status=status_filter, limit=page.limit, offset=page.offset
    )
    return ListOf[PushOut](items=[PushOut.model_validate(r) for r in rows], total=total)


@router.post(
    "/{partner_id}/pushes/{push_id}/retry",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Queue a refused push again",
)
async def retry_push(partner_id: int, push_id: int, ocpi: Ocpi) -> None:
    await ocpi.registry.get(partner_id)
    await ocpi.outbox.retry(push_id)

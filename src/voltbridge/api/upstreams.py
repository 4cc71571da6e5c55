"""`/api/v1/stations/{id}/upstreams`: the backoffices a station is shared with, and each leg's live state."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, authenticated
from voltbridge.api.wire import ErrorBody, ListOf, Model, Out, UtcTime
from voltbridge.core.errors import InvalidInput
from voltbridge.core.upstreams import (
    LegState,
    LegStatus,
    Role,
    UpstreamChange,
    UpstreamLegs,
    UpstreamService,
    UpstreamSpec,
)
from voltbridge.store.models.upstreams import Upstream

router = APIRouter(
    prefix="/stations/{station_id}/upstreams", tags=["upstreams"], dependencies=[Depends(authenticated)]
)

RoleName = Literal["billing", "data_control"]

PEM = "PEM text (-----BEGIN …-----)"


class UpstreamServices(Protocol):
    """What these routes use of the running process (the App provides it)."""

    @property
    def upstreams(self) -> UpstreamService: ...

    @property
    def proxy(self) -> UpstreamLegs: ...


def _services(request: Request) -> UpstreamServices:
    services: UpstreamServices = request.app.state.services
    return services


Services = Annotated[UpstreamServices, Depends(_services)]


class UpstreamIn(Model):
    """A backoffice to share the station with ("connect operator")."""

    url: str = Field(
        max_length=2048,
        description="ws:// or wss:// URL of the backoffice's OCPP endpoint; the leg connects to <url>/<station id>",
        examples=["wss://billing.example.com/ocpp"],
    )
    role: RoleName = Field(
        description="billing: decides authorization and may start/stop (one per station); "
        "data_control: sees everything, configures within the guard list, never starts or stops"
    )
    password: str | None = Field(
        default=None, description="HTTP Basic password of this leg (the user is the station id)"
    )
    enabled: bool = True
    name: str | None = Field(default=None, max_length=255, description="who this is, for people")
    client_cert: str | None = Field(default=None, description=f"TLS client certificate of this leg, {PEM}")
    client_key: str | None = Field(default=None, description=f"its private key, {PEM}")
    ca_cert: str | None = Field(
        default=None, description=f"a CA to trust for this upstream besides the system's, {PEM}"
    )


class UpstreamPatch(Model):
    """Fields to change; a field left out stays. `password`, `client_cert` or `ca_cert` null removes it.

    A new role applies at once, without reconnecting the charger or the leg.
    """

    url: str | None = Field(default=None, max_length=2048)
    role: RoleName | None = None
    password: str | None = None
    enabled: bool | None = None
    name: str | None = Field(default=None, max_length=255)
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None


class UpstreamOut(Out):
    """An upstream, and the live state of its leg on this node."""

    id: int
    station_id: str
    name: str | None
    url: str
    role: str
    enabled: bool
    has_password: bool
    has_client_certificate: bool
    has_ca_cert: bool
    created_at: UtcTime
    updated_at: UtcTime
    state: str = Field(
        description="disabled | idle (charger offline, nothing to deliver) | connecting | connected | backing_off"
    )
    next_attempt_at: UtcTime | None = Field(description="when backing off: the next connection attempt")
    last_error: str | None
    last_error_at: UtcTime | None
    connected_since: UtcTime | None
    messages_up: int = Field(description="frames sent to the upstream")
    messages_down: int = Field(description="frames received from the upstream")
    refused: dict[str, int] = Field(description="commands refused by role or guard list, by action")
    outbox_depth: int = Field(description="billing-relevant messages stored until the upstream answers them")
    queue_depth: int = Field(description="messages queued for the leg, durable ones included")
    dropped: int = Field(description="non-durable messages dropped while the upstream was away")
    skipped: int = Field(
        description="transaction messages not sent: the upstream never learned that transaction"
    )
    last_latency_ms: float | None = Field(description="how long the upstream took to answer the last message")
    reconnects: int
    fallbacks: int = Field(
        description="authorizations decided by the fallback because this authority did not answer"
    )
    last_up_at: UtcTime | None
    last_down_at: UtcTime | None


class MessageOut(Out):
    """A frame on the leg (up: to the upstream, down: from it), or something done with one (`EVENT`)."""

    at: UtcTime
    direction: str
    kind: str
    unique_id: str | None
    action: str | None
    payload: dict[str, Any] | None
    note: str | None


async def _view(services: UpstreamServices, upstream: Upstream) -> UpstreamOut:
    live = services.proxy.state(upstream.id)
    if live is None:
        live = LegState(status=LegStatus.IDLE if upstream.enabled else LegStatus.DISABLED)
    live_status = live.status if upstream.enabled else LegStatus.DISABLED
    outbox_depth = live.outbox_depth
    if live_status in (LegStatus.IDLE, LegStatus.DISABLED):
        outbox_depth = await services.upstreams.outbox_depth(upstream.id)
    return UpstreamOut(
        id=upstream.id,
        station_id=upstream.station_id,
        name=upstream.name,
        url=upstream.url,
        role=upstream.role,
        enabled=upstream.enabled,
        has_password=upstream.password is not None,
        has_client_certificate=upstream.client_cert is not None,
        has_ca_cert=upstream.ca_cert is not None,
        created_at=upstream.created_at,
        updated_at=upstream.updated_at,
        state=live_status.value,
        next_attempt_at=live.next_attempt_at,
        last_error=live.last_error,
        last_error_at=live.last_error_at,
        connected_since=live.connected_since,
        messages_up=live.messages_up,
        messages_down=live.messages_down,
        refused=dict(live.refused),
        outbox_depth=outbox_depth,
        queue_depth=live.queue_depth,
        dropped=live.dropped,
        skipped=live.skipped,
        last_latency_ms=live.last_latency_ms,
        reconnects=live.reconnects,
        fallbacks=live.fallbacks,
        last_up_at=live.last_up_at,
        last_down_at=live.last_down_at,
    )


_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "the station already has a Billing upstream"}
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Share the station with a backoffice",
    responses=_CONFLICT,
)
async def create_upstream(
    station_id: str, body: UpstreamIn, services: Services, principal: CurrentPrincipal
) -> UpstreamOut:
    spec = UpstreamSpec(
        url=body.url,
        role=Role(body.role),
        password=body.password,
        enabled=body.enabled,
        name=body.name,
        client_cert=body.client_cert,
        client_key=body.client_key,
        ca_cert=body.ca_cert,
    )
    upstream = await services.upstreams.create(station_id, spec, principal=principal)
    return await _view(services, upstream)


@router.get("", summary="The backoffices a station is shared with")
async def list_upstreams(
    station_id: str, services: Services, page: PageDep, principal: CurrentPrincipal
) -> ListOf[UpstreamOut]:
    rows, total = await services.upstreams.get_all(
        station_id, limit=page.limit, offset=page.offset, principal=principal
    )
    return ListOf[UpstreamOut](items=[await _view(services, u) for u in rows], total=total)


@router.get("/{upstream_id}", summary="One upstream and its leg's live state")
async def get_upstream(
    station_id: str, upstream_id: int, services: Services, principal: CurrentPrincipal
) -> UpstreamOut:
    return await _view(services, await services.upstreams.get(station_id, upstream_id, principal=principal))


@router.patch(
    "/{upstream_id}", summary="Change an upstream (role, URL, credentials, enabled)", responses=_CONFLICT
)
async def update_upstream(
    station_id: str, upstream_id: int, body: UpstreamPatch, services: Services, principal: CurrentPrincipal
) -> UpstreamOut:
    given = body.model_fields_set
    for name in ("url", "role", "enabled"):
        if name in given and getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it")
    if "client_key" in given and "client_cert" not in given:
        raise InvalidInput("send client_cert with client_key: a key alone matches no certificate")
    change = UpstreamChange(
        url=body.url,
        role=Role(body.role) if body.role is not None else None,
        password=body.password,
        clear_password="password" in given and body.password is None,
        enabled=body.enabled,
        name=("" if body.name is None else body.name) if "name" in given else None,
        client_cert=body.client_cert,
        client_key=body.client_key,
        clear_client_certificate="client_cert" in given and body.client_cert is None,
        ca_cert=body.ca_cert,
        clear_ca_cert="ca_cert" in given and body.ca_cert is None,
    )
    upstream = await services.upstreams.update(station_id, upstream_id, change, principal=principal)
    return await _view(services, upstream)


@router.delete(
    "/{upstream_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Stop sharing the station with it"
)
async def delete_upstream(
    station_id: str, upstream_id: int, services: Services, principal: CurrentPrincipal
) -> Response:
    await services.upstreams.delete(station_id, upstream_id, principal=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{upstream_id}/messages", summary="The leg's recent frames, newest first (the last 200 at most)")
async def list_upstream_messages(
    station_id: str, upstream_id: int, services: Services, page: PageDep, principal: CurrentPrincipal
) -> ListOf[MessageOut]:
    await services.upstreams.get(station_id, upstream_id, principal=principal)
    messages = list(reversed(services.proxy.messages(upstream_id)))
    window = messages[page.offset : page.offset + page.limit]
    return ListOf[MessageOut](
        items=[
            MessageOut(
                at=m.at,
                direction=m.direction.value,
                kind=m.kind,
                unique_id=m.unique_id,
                action=m.action,
                payload=dict(m.payload) if m.payload is not None else None,
                note=m.note,
            )
            for m in window
        ],
        total=len(messages),
    )

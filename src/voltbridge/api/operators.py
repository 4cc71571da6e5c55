"""`/api/v1/operators` and `/api/v1/drivers`: operators, their keys, commission and private networks.

Platform admins manage operators and drivers. An operator's users read their own operator (others
answer 404) and grant or revoke membership of its private network. Scoping is the services' job
(core/operators/scope.py); these routes pass the principal on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Protocol, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, authenticated
from voltbridge.api.wire import ListOf, Model, Out, UtcTime
from voltbridge.core.errors import InvalidInput
from voltbridge.core.operators import (
    AreaService,
    AuditService,
    CommissionService,
    CommissionTerms,
    DriverFields,
    DriverService,
    DriverView,
    Member,
    Money,
    NetworkService,
    OperatorFields,
    OperatorService,
    ReportService,
    session_limit,
)
from voltbridge.core.operators.money import decimal
from voltbridge.store.models.operators import CommissionSettings, Operator

router = APIRouter(dependencies=[Depends(authenticated)])

DecimalText = Annotated[
    str,
    Field(
        pattern=r"^-?\d{1,12}(\.\d{1,6})?$", examples=["0.35"], description="a decimal number, as a string"
    ),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"], description="ISO 4217")]


class OperatorServices(Protocol):
    """The services of the operators' domain that the API uses (App provides them)."""

    @property
    def operators(self) -> OperatorService: ...

    @property
    def areas(self) -> AreaService: ...

    @property
    def drivers(self) -> DriverService: ...

    @property
    def network(self) -> NetworkService: ...

    @property
    def commission(self) -> CommissionService: ...

    @property
    def reports(self) -> ReportService: ...

    @property
    def audit(self) -> AuditService: ...


def operator_services(request: Request) -> OperatorServices:
    """The operators' services of the running process."""
    return cast(OperatorServices, request.app.state.services)


OperatorServicesDep = Annotated[OperatorServices, Depends(operator_services)]


class MoneyIn(Model):
    amount: DecimalText
    currency: Currency


class MoneyOut(Out):
    amount: str
    currency: str


class OperatorBody(Model):
    """Fields shared by creating and changing an operator."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    status: Literal["active", "inactive"] | None = None
    organisation_name: str | None = Field(default=None, max_length=255)
    address: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=64)
    state: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=128)
    zip: str | None = Field(default=None, max_length=32)
    timezone: str | None = Field(
        default=None, description="IANA time zone; every time the operator's users see follows it"
    )
    rating_min_duration_s: int | None = Field(
        default=None, ge=0, description="a shorter session is not billable (session rating)"
    )
    rating_min_energy_wh: int | None = Field(default=None, ge=0, description="less energy is not billable")
    rating_rate_idle: bool | None = Field(default=None, description="whether idle time is rated")
    idle_after_minutes: int | None = Field(default=None, ge=0, description="no energy flow this long: idle")
    idle_stop_tracking_after_minutes: int | None = Field(
        default=None, ge=0, description="idle this long: the session stops being tracked"
    )
    energy_step_delta_wh: int | None = Field(
        default=None, ge=0, description="larger jumps between two meter readings mark a session for review"
    )
    session_limit: MoneyIn | None = Field(
        default=None, description="a session is stopped when its running cost reaches this (with tariffs)"
    )
    private_network_groups: list[str] | None = Field(
        default=None, description="id token group ids accepted on invisible stations besides the members"
    )


class OperatorIn(OperatorBody):
    code: str = Field(min_length=1, max_length=32, description="unique; can never change")
    name: str = Field(min_length=1, max_length=255)


class OperatorPatch(OperatorBody):
    """Fields to change; a field left out stays. `code` may only repeat the current code."""

    code: str | None = Field(default=None, description="immutable: a different value answers 409")


# Fields that hold a value always: `null` is refused rather than read as "unchanged".
_NOT_NULL = (
    "name",
    "status",
    "timezone",
    "rating_min_duration_s",
    "rating_min_energy_wh",
    "rating_rate_idle",
    "private_network_groups",
)


class OperatorOut(Out):
    id: int
    code: str
    name: str
    status: str
    organisation_name: str | None
    address: str | None
    phone: str | None
    country: str | None
    state: str | None
    city: str | None
    zip: str | None
    timezone: str
    rating_min_duration_s: int
    rating_min_energy_wh: int
    rating_rate_idle: bool
    idle_after_minutes: int | None
    idle_stop_tracking_after_minutes: int | None
    energy_step_delta_wh: int | None
    session_limit: MoneyOut | None
    private_network_groups: list[str]
    security_key_prefix: str | None = Field(description="the first characters of the security key")
    security_key_rotated_at: UtcTime | None
    created_at: UtcTime
    updated_at: UtcTime


class OperatorCreated(OperatorOut):
    """The new operator. `security_key` is shown only in this answer; only its hash is stored."""

    security_key: str


class SecurityKeyOut(Out):
    """A new security key, shown only in this answer; the previous one no longer works."""

    security_key: str
    security_key_prefix: str
    security_key_rotated_at: UtcTime


class CommissionIn(Model):
    """Commission terms: a price per kWh and/or per session, and the operator's share of the revenue."""

    currency: Currency
    price_per_kwh: DecimalText | None = None
    price_per_session: DecimalText | None = None
    operator_share_percent: DecimalText


class CommissionOut(Out):
    operator_id: int
    currency: str
    price_per_kwh: str | None
    price_per_session: str | None
    operator_share_percent: str
    updated_at: UtcTime


class MemberIn(Model):
    """Admit one id token (by uid) or every token a driver holds."""

    id_token: str | None = Field(default=None, min_length=1, max_length=36)
    driver_id: int | None = None


class MemberOut(Out):
    operator_id: int
    id_token: str
    token_status: str
    driver_id: int | None
    driver_name: str | None
    driver_email: str | None
    granted_at: UtcTime
    granted_by: str | None


class CandidateOut(Out):
    """A customer an operator may admit; `members` of its `id_tokens` are in the network already."""

    driver_id: int
    name: str
    email: str | None
    id_tokens: int
    members: int


class DriverBody(Model):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    email: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    reference: str | None = Field(default=None, max_length=64, description="e.g. the customer number")
    active: bool | None = None
    id_tokens: list[str] | None = Field(default=None, description="uids of existing id tokens it holds")


class DriverIn(DriverBody):
    name: str = Field(min_length=1, max_length=255)


class DriverOut(Out):
    id: int
    name: str
    email: str | None
    phone: str | None
    reference: str | None
    active: bool
    id_tokens: list[str]
    created_at: UtcTime
    updated_at: UtcTime


def operator_out(operator: Operator) -> OperatorOut:
    """The wire form of an operator."""
    limit = session_limit(operator)
    fields = {name: getattr(operator, name) for name in OperatorOut.model_fields if name != "session_limit"}
    return OperatorOut(
        **fields,
        session_limit=None if limit is None else MoneyOut(amount=str(limit.amount), currency=limit.currency),
    )


def _fields(body: OperatorBody) -> OperatorFields:
    given = body.model_dump(exclude_unset=True, exclude={"code"})
    for name in _NOT_NULL:
        if name in given and given[name] is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it")
    if "session_limit" in given:
        limit = body.session_limit
        given["session_limit"] = (
            None if limit is None else Money(decimal(limit.amount, "session_limit.amount"), limit.currency)
        )
    return cast(OperatorFields, given)


def _commission_out(row: CommissionSettings) -> CommissionOut:
    return CommissionOut(
        operator_id=row.operator_id,
        currency=row.currency,
        price_per_kwh=_text(row.price_per_kwh),
        price_per_session=_text(row.price_per_session),
        operator_share_percent=str(row.operator_share_percent),
        updated_at=row.updated_at,
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _member_out(member: Member) -> MemberOut:
    return MemberOut.model_validate(member)


def _driver_out(view: DriverView) -> DriverOut:
    d = view.driver
    return DriverOut(
        id=d.id,
        name=d.name,
        email=d.email,
        phone=d.phone,
        reference=d.reference,
        active=d.active,
        id_tokens=view.id_tokens,
        created_at=d.created_at,
        updated_at=d.updated_at,
    )


def _driver_fields(body: DriverBody) -> DriverFields:
    given = body.model_dump(exclude_unset=True)
    for name in ("name", "active", "id_tokens"):
        if name in given and given[name] is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it")
    return cast(DriverFields, given)


@router.post(
    "/operators", status_code=status.HTTP_201_CREATED, tags=["operators"], summary="Create an operator"
)
async def create_operator(
    body: OperatorIn, services: OperatorServicesDep, principal: CurrentPrincipal
) -> OperatorCreated:
    created = await services.operators.create(body.code, _fields(body), actor=principal)
    return OperatorCreated(**operator_out(created.operator).model_dump(), security_key=created.security_key)


@router.get("/operators", tags=["operators"], summary="List operators (an operator's users see their own)")
async def list_operators(
    services: OperatorServicesDep,
    principal: CurrentPrincipal,
    page: PageDep,
    search: Annotated[str | None, Query(description="in code, name or organisation")] = None,
    status: Annotated[Literal["active", "inactive"] | None, Query()] = None,
) -> ListOf[OperatorOut]:
    rows, total = await services.operators.get_all(
        principal=principal, search=search, status=status, limit=page.limit, offset=page.offset
    )
    return ListOf[OperatorOut](items=[operator_out(o) for o in rows], total=total)


@router.get("/operators/{operator_id}", tags=["operators"], summary="One operator")
async def get_operator(
    operator_id: int, services: OperatorServicesDep, principal: CurrentPrincipal
) -> OperatorOut:
    return operator_out(await services.operators.get(operator_id, principal=principal))


@router.patch(
    "/operators/{operator_id}",
    tags=["operators"],
    summary="Change an operator (its code never changes: 409)",
)
async def update_operator(
    operator_id: int, body: OperatorPatch, services: OperatorServicesDep, principal: CurrentPrincipal
) -> OperatorOut:
    operator = await services.operators.update(operator_id, _fields(body), code=body.code, actor=principal)
    return operator_out(operator)


@router.delete(
    "/operators/{operator_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["operators"],
    summary="Delete an operator nothing refers to (else 409 naming what does)",
)
async def delete_operator(
    operator_id: int, services: OperatorServicesDep, principal: CurrentPrincipal
) -> Response:
    await services.operators.delete(operator_id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/operators/{operator_id}/security-key",
    tags=["operators"],
    summary="Rotate the operator's security key (the new one is shown once)",
)
async def rotate_security_key(
    operator_id: int, services: OperatorServicesDep, principal: CurrentPrincipal
) -> SecurityKeyOut:
    rotated = await services.operators.rotate_security_key(operator_id, actor=principal)
    operator = rotated.operator
    assert operator.security_key_prefix is not None and operator.security_key_rotated_at is not None
    return SecurityKeyOut(
        security_key=rotated.security_key,
        security_key_prefix=operator.security_key_prefix,
        security_key_rotated_at=operator.security_key_rotated_at,
    )


@router.get(
    "/operators/{operator_id}/commission", tags=["operators"], summary="The operator's commission terms"
)
async def get_commission(
    operator_id: int, services: OperatorServicesDep, principal: CurrentPrincipal
) -> CommissionOut:
    return _commission_out(await services.commission.get(operator_id, principal=principal))


@router.put(
    "/operators/{operator_id}/commission", tags=["operators"], summary="Set the operator's commission terms"
)
async def set_commission(
    operator_id: int, body: CommissionIn, services: OperatorServicesDep, principal: CurrentPrincipal
) -> CommissionOut:
    terms = CommissionTerms(
        currency=body.currency,
        price_per_kwh=None if body.price_per_kwh is None else decimal(body.price_per_kwh, "price_per_kwh"),
        price_per_session=None
        if body.price_per_session is None
        else decimal(body.price_per_session, "price_per_session"),
        operator_share_percent=decimal(body.operator_share_percent, "operator_share_percent"),
    )
    return _commission_out(await services.commission.set(operator_id, terms, actor=principal))


@router.get(
    "/operators/{operator_id}/members", tags=["private network"], summary="Members of the private network"
)
async def list_members(
    operator_id: int,
    services: OperatorServicesDep,
    principal: CurrentPrincipal,
    page: PageDep,
    search: Annotated[
        str | None, Query(description="in the uid or the driver's name, email or reference")
    ] = None,
) -> ListOf[MemberOut]:
    members, total = await services.network.members(
        operator_id, principal=principal, search=search, limit=page.limit, offset=page.offset
    )
    return ListOf[MemberOut](items=[_member_out(m) for m in members], total=total)


@router.post(
    "/operators/{operator_id}/members",
    status_code=status.HTTP_201_CREATED,
    tags=["private network"],
    summary="Admit an id token, or every token of a driver, to the private network",
)
async def grant_membership(
    operator_id: int, body: MemberIn, services: OperatorServicesDep, principal: CurrentPrincipal
) -> ListOf[MemberOut]:
    members = await services.network.grant(
        operator_id, id_token=body.id_token, driver_id=body.driver_id, actor=principal
    )
    return ListOf[MemberOut](items=[_member_out(m) for m in members], total=len(members))


@router.delete(
    "/operators/{operator_id}/members/{uid}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["private network"],
    summary="Revoke an id token's membership",
)
async def revoke_membership(
    operator_id: int, uid: str, services: OperatorServicesDep, principal: CurrentPrincipal
) -> Response:
    await services.network.revoke(operator_id, uid, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/operators/{operator_id}/candidates",
    tags=["private network"],
    summary="Search the platform's customers to admit (at least 3 characters)",
)
async def search_candidates(
    operator_id: int,
    services: OperatorServicesDep,
    principal: CurrentPrincipal,
    search: Annotated[str, Query(min_length=1, description="in name, email, reference or token uid")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListOf[CandidateOut]:
    found = await services.network.candidates(operator_id, search, principal=principal, limit=limit)
    return ListOf[CandidateOut](items=[CandidateOut.model_validate(c) for c in found], total=len(found))


@router.post("/drivers", status_code=status.HTTP_201_CREATED, tags=["drivers"], summary="Create a driver")
async def create_driver(
    body: DriverIn, services: OperatorServicesDep, principal: CurrentPrincipal
) -> DriverOut:
    return _driver_out(await services.drivers.create(_driver_fields(body), actor=principal))


@router.get("/drivers", tags=["drivers"], summary="List drivers (an operator's users: its network's drivers)")
async def list_drivers(
    services: OperatorServicesDep,
    principal: CurrentPrincipal,
    page: PageDep,
    search: Annotated[str | None, Query(description="in name, email, reference or token uid")] = None,
) -> ListOf[DriverOut]:
    views, total = await services.drivers.get_all(
        principal=principal, search=search, limit=page.limit, offset=page.offset
    )
    return ListOf[DriverOut](items=[_driver_out(v) for v in views], total=total)


@router.get("/drivers/{driver_id}", tags=["drivers"], summary="One driver")
async def get_driver(driver_id: int, services: OperatorServicesDep, principal: CurrentPrincipal) -> DriverOut:
    return _driver_out(await services.drivers.get(driver_id, principal=principal))


@router.patch(
    "/drivers/{driver_id}", tags=["drivers"], summary="Change a driver (`id_tokens` replaces its tokens)"
)
async def update_driver(
    driver_id: int, body: DriverBody, services: OperatorServicesDep, principal: CurrentPrincipal
) -> DriverOut:
    return _driver_out(await services.drivers.update(driver_id, _driver_fields(body), actor=principal))


@router.delete(
    "/drivers/{driver_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["drivers"],
    summary="Delete a driver",
)
async def delete_driver(
    driver_id: int, services: OperatorServicesDep, principal: CurrentPrincipal
) -> Response:
    await services.drivers.delete(driver_id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

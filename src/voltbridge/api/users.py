"""`/api/v1/users` (platform admins only): users of the API and portal, and their bearer tokens."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Response, status
from pydantic import Field

from voltbridge.api.deps import CurrentPrincipal, PageDep, ServicesDep, admin_only
from voltbridge.api.wire import ListOf, Model, Out, UtcTime

router = APIRouter(prefix="/users", tags=["users"], dependencies=[Depends(admin_only)])
me_router = APIRouter(tags=["users"])


class UserIn(Model):
    """A new user. An operator user needs `operator_id`; a platform admin has none."""

    email: str = Field(min_length=3, max_length=255)
    password: str | None = Field(default=None, description="for the portal; API access uses tokens")
    role: Literal["admin", "operator"]
    operator_id: int | None = None
    read_only: bool = False


class UserOut(Out):
    id: int
    email: str
    role: str
    operator_id: int | None
    read_only: bool
    active: bool
    created_at: UtcTime
    updated_at: UtcTime


class TokenIn(Model):
    name: str = Field(default="api", min_length=1, max_length=128, description="what the token is for")


class IssuedTokenOut(Out):
    """A new bearer token. `token` is shown only in this answer; only its hash is stored."""

    id: int
    name: str
    token: str


class ApiTokenOut(Out):
    """A bearer token without its secret: `prefix` is its first characters, to recognise it."""

    id: int
    name: str
    prefix: str
    created_at: UtcTime
    last_used_at: UtcTime | None
    revoked_at: UtcTime | None


class PrincipalOut(Out):
    """Who the bearer token belongs to."""

    user_id: int | None
    email: str
    role: str
    operator_id: int | None
    read_only: bool


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a user")
async def create_user(body: UserIn, services: ServicesDep, principal: CurrentPrincipal) -> UserOut:
    user = await services.users.create(
        body.email,
        role=body.role,
        password=body.password,
        operator_id=body.operator_id,
        read_only=body.read_only,
        actor=principal,
    )
    return UserOut.model_validate(user)


@router.get("", summary="List users")
async def list_users(services: ServicesDep, page: PageDep) -> ListOf[UserOut]:
    users, total = await services.users.get_all(limit=page.limit, offset=page.offset)
    return ListOf[UserOut](items=[UserOut.model_validate(u) for u in users], total=total)


@router.get("/{user_id}", summary="One user")
async def get_user(user_id: int, services: ServicesDep) -> UserOut:
    return UserOut.model_validate(await services.users.get(user_id))


@router.post(
    "/{user_id}/tokens", status_code=status.HTTP_201_CREATED, summary="Issue a bearer token (shown once)"
)
async def issue_token(
    user_id: int, services: ServicesDep, principal: CurrentPrincipal, body: TokenIn | None = None
) -> IssuedTokenOut:
    issued = await services.users.issue_token(user_id, (body or TokenIn()).name, actor=principal)
    return IssuedTokenOut.model_validate(issued)


@router.get("/{user_id}/tokens", summary="A user's bearer tokens, without their secrets")
async def list_user_tokens(user_id: int, services: ServicesDep) -> ListOf[ApiTokenOut]:
    await services.users.get(user_id)  # 404 for a user that does not exist
    tokens = await services.users.tokens(user_id)
    return ListOf[ApiTokenOut](items=[ApiTokenOut.model_validate(t) for t in tokens], total=len(tokens))


@router.delete(
    "/{user_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a bearer token"
)
async def revoke_token(
    user_id: int, token_id: int, services: ServicesDep, principal: CurrentPrincipal
) -> Response:
    await services.users.revoke_token(user_id, token_id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.get("/me", summary="Who the bearer token belongs to")
async def whoami(principal: CurrentPrincipal) -> PrincipalOut:
    return PrincipalOut.model_validate(principal)

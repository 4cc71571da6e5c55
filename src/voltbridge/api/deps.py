"""What the API needs from the composition root, who is asking, and the list parameters.

The API never imports `voltbridge.app` (ARCHITECTURE.md): `Services` below names, structurally,
the parts of the running process it uses, and `App` satisfies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from voltbridge.bus import Bus
from voltbridge.core.authorization import AuthorizationService
from voltbridge.core.commands.service import CommandService
from voltbridge.core.errors import Forbidden
from voltbridge.core.stations.service import StationService
from voltbridge.core.tokens.service import TokenService
from voltbridge.core.transactions.service import TransactionService
from voltbridge.core.users.service import Principal, UserService

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class DatabaseView(Protocol):
    """The database handle, for the health check only."""

    @property
    def engine(self) -> AsyncEngine: ...


class MeterWriterView(Protocol):
    """The meter-value batch writer's counters."""

    @property
    def rows_written(self) -> int: ...

    @property
    def batches(self) -> int: ...

    @property
    def depth(self) -> int: ...


class ConnectionStatsView(Protocol):
    """Counters of one open charger socket."""

    @property
    def calls_in(self) -> int: ...

    @property
    def calls_out(self) -> int: ...

    @property
    def errors_sent(self) -> int: ...

    @property
    def timeouts(self) -> int: ...

    @property
    def quirks(self) -> int: ...

    @property
    def waiting(self) -> int: ...

    @property
    def actions_in(self) -> Mapping[str, int]: ...


class ConnectionView(Protocol):
    @property
    def stats(self) -> ConnectionStatsView: ...


class GatewayView(Protocol):
    """The sockets this node holds."""

    @property
    def connections(self) -> Mapping[str, ConnectionView]: ...


class Services(Protocol):
    """The parts of a running voltbridge process that the REST API uses."""

    @property
    def stations(self) -> StationService: ...

    @property
    def tokens(self) -> TokenService: ...

    @property
    def transactions(self) -> TransactionService: ...

    @property
    def commands(self) -> CommandService: ...

    @property
    def users(self) -> UserService: ...

    @property
    def authorization(self) -> AuthorizationService: ...

    @property
    def bus(self) -> Bus: ...

    @property
    def meter_writer(self) -> MeterWriterView: ...

    @property
    def gateway(self) -> GatewayView: ...

    @property
    def db(self) -> DatabaseView: ...


def get_services(request: Request) -> Services:
    """The services `create_api` was given."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


class Unauthenticated(Exception):
    """Raised when a request carries no bearer token, or one that names nobody (answered 401)."""


_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `voltbridge token create`, `POST /api/v1/users/{id}/tokens` or VOLTBRIDGE_ADMIN_TOKEN.",
)
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def access(*, admin: bool = False) -> Callable[..., Awaitable[Principal]]:
    """The one check of who is asking: a valid bearer token (else 401); writes need a user that is not
    read-only, and `admin` resources a platform admin (else 403). Returns the principal."""

    async def check(
        request: Request,
        services: ServicesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise Unauthenticated("send Authorization: Bearer <token>")
        principal = await services.users.authenticate(credentials.credentials)
        if principal is None:
            raise Unauthenticated("the bearer token is unknown, revoked or its user is inactive")
        if admin and not principal.is_admin:
            raise Forbidden("only platform admins may do this")
        if principal.read_only and request.method not in _READS:
            raise Forbidden(f"{principal.email} is read-only and may not change anything")
        return principal

    return check


authenticated = access()
admin_only = access(admin=True)

CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


@dataclass(frozen=True, slots=True)
class Page:
    """A window onto a list: at most `limit` items after skipping `offset`."""

    limit: int
    offset: int


def page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="items to skip")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page)]

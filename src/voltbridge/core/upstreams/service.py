"""The upstream registry: which third-party backoffices share a station, in which role.

Rules kept here: a URL is ws:// or wss://; a role is Billing or Data & Control; a station has at most
one Billing upstream (it decides authorization, and two deciders could disagree); a client
certificate comes with its key. Every change publishes an event after commit so the node holding
the charger's socket adds, changes or removes the leg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voltbridge.bus import Bus
from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.core.operators.scope import Scope
from voltbridge.core.upstreams.events import UpstreamChanged, UpstreamDeleted
from voltbridge.store import Database
from voltbridge.store.models import Station
from voltbridge.store.models.upstreams import Upstream, UpstreamOutboxEntry

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal


class Role(StrEnum):
    """What an upstream may do (MULTIPLEXER.md, Roles)."""

    BILLING = "billing"  # decides Authorize/StartTransaction, may start and stop transactions
    DATA_CONTROL = "data_control"  # sees everything, configures within the guard list, never starts/stops


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    """A new upstream for a station."""

    url: str
    role: Role
    password: str | None = None
    enabled: bool = True
    name: str | None = None
    client_cert: str | None = None  # PEM
    client_key: str | None = None  # PEM
    ca_cert: str | None = None  # PEM, for an upstream whose certificate a private CA signed


@dataclass(frozen=True, slots=True)
class UpstreamChange:
    """Fields to change; None means unchanged, `clear_*` removes a secret."""

    url: str | None = None
    role: Role | None = None
    password: str | None = None
    clear_password: bool = False
    enabled: bool | None = None
    name: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    clear_client_certificate: bool = False
    ca_cert: str | None = None
    clear_ca_cert: bool = False


MAX_URL = 2048


class UpstreamService:
    """Creates, changes and removes upstreams; the multiplexer follows through the events."""

    def __init__(self, db: Database, bus: Bus, clock: Clock) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock

    async def create(
        self, station_id: str, spec: UpstreamSpec, *, principal: Principal | None = None
    ) -> Upstream:
        """Connect an upstream to a station. A second Billing upstream is a Conflict."""
        url = check_url(spec.url)
        _check_password(spec.password)
        _check_pem(spec.client_cert, spec.client_key, spec.ca_cert)
        now = self._clock.now()
        upstream = Upstream(
            station_id=station_id,
            name=spec.name,
            url=url,
            role=Role(spec.role).value,
            password=spec.password,
            client_cert=spec.client_cert,
            client_key=spec.client_key,
            ca_cert=spec.ca_cert,
            enabled=spec.enabled,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.transaction() as session:
                await _station(session, station_id, principal)
                if upstream.role == Role.BILLING:
                    await _refuse_second_billing(session, station_id, None)
                session.add(upstream)
        except IntegrityError as exc:
            if not _unique_violation(exc):
                raise
            raise _billing_conflict(station_id) from exc
        await self._bus.publish(UpstreamChanged(upstream_id=upstream.id, station_id=station_id))
        return upstream

    async def update(
        self, station_id: str, upstream_id: int, change: UpstreamChange, *, principal: Principal | None = None
    ) -> Upstream:
        """Change an upstream; its leg follows (a role change never reconnects the charger)."""
        try:
            async with self._db.transaction() as session:
                upstream = await _get(session, station_id, upstream_id, principal)
                if change.url is not None:
                    upstream.url = check_url(change.url)
                if change.role is not None and change.role != upstream.role:
                    if change.role == Role.BILLING:
                        await _refuse_second_billing(session, station_id, upstream_id)
                    upstream.role = Role(change.role).value
                if change.password is not None:
                    _check_password(change.password)
                    upstream.password = change.password
                if change.clear_password:
                    upstream.password = None
                if change.enabled is not None:
                    upstream.enabled = change.enabled
                if change.name is not None:
                    upstream.name = change.name or None
                if change.clear_client_certificate:
                    upstream.client_cert = upstream.client_key = None
                if change.client_cert is not None or change.client_key is not None:
                    upstream.client_cert = change.client_cert
                    upstream.client_key = change.client_key
                if change.clear_ca_cert:
                    upstream.ca_cert = None
                if change.ca_cert is not None:
                    upstream.ca_cert = change.ca_cert
                _check_pem(upstream.client_cert, upstream.client_key, upstream.ca_cert)
                upstream.updated_at = self._clock.now()
        except IntegrityError as exc:
            if not _unique_violation(exc):
                raise
            raise _billing_conflict(station_id) from exc
        await self._bus.publish(UpstreamChanged(upstream_id=upstream_id, station_id=station_id))
        return upstream

    async def delete(self, station_id: str, upstream_id: int, *, principal: Principal | None = None) -> None:
        """Disconnect an upstream: its leg, outbox and id map go with it."""
        async with self._db.transaction() as session:
            await session.delete(await _get(session, station_id, upstream_id, principal))
        await self._bus.publish(UpstreamDeleted(upstream_id=upstream_id, station_id=station_id))

    async def get(self, station_id: str, upstream_id: int, *, principal: Principal | None = None) -> Upstream:
        async with self._db.read() as session:
            return await _get(session, station_id, upstream_id, principal)

    async def get_all(
        self, station_id: str, *, limit: int = 100, offset: int = 0, principal: Principal | None = None
    ) -> tuple[Sequence[Upstream], int]:
        """A station's upstreams, oldest first (NotFound for an unknown station)."""
        query = select(Upstream).where(Upstream.station_id == station_id)
        async with self._db.read() as session:
            await _station(session, station_id, principal)
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(Upstream.id).limit(limit).offset(offset))
            return rows.all(), total

    async def outbox_depth(self, upstream_id: int) -> int:
        """How many billing-relevant messages are stored for the upstream, waiting for its answer."""
        async with self._db.read() as session:
            count = await session.scalar(
                select(func.count()).where(UpstreamOutboxEntry.upstream_id == upstream_id)
            )
            return int(count or 0)

    async def find(self, upstream_id: int) -> Upstream | None:
        """An upstream by id alone, or None (the multiplexer, after an event)."""
        async with self._db.read() as session:
            return await session.get(Upstream, upstream_id)

    async def all_enabled(self) -> Sequence[Upstream]:
        """Every enabled upstream of every station (the multiplexer, at start)."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Upstream).where(Upstream.enabled.is_(True)).order_by(Upstream.id)
            )
            return rows.all()


def check_url(url: str) -> str:
    """A leg's base URL, without a trailing slash (the station id is appended, as OCPP does)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InvalidInput(f"upstream url {url!r} must be ws://host[:port]/path or wss://…")
    if parts.query or parts.fragment:
        raise InvalidInput(
            "upstream url must have no query or fragment: the station id is appended to its path"
        )
    if len(url) > MAX_URL:
        raise InvalidInput(f"upstream url is longer than {MAX_URL} characters")
    return url.rstrip("/")


def _check_password(password: str | None) -> None:
    if password is not None and not (1 <= len(password) <= 255 and password.isprintable()):
        raise InvalidInput("upstream password must be 1 to 255 printable characters")


def _check_pem(cert: str | None, key: str | None, ca: str | None) -> None:
    if (cert is None) != (key is None):
        raise InvalidInput("a client certificate needs its private key, and a key its certificate (both PEM)")
    for what, value in (("client_cert", cert), ("client_key", key), ("ca_cert", ca)):
        if value is not None and "-----BEGIN " not in value:
            raise InvalidInput(f"{what} must be PEM text (-----BEGIN …-----)")


async def _station(session: AsyncSession, station_id: str, principal: Principal | None) -> None:
    # Outside the caller's scope reads exactly like "does not exist" (core/operators/scope.py).
    if await session.get(Station, station_id) is None or not await Scope.of(principal).sees_station(
        session, station_id
    ):
        raise NotFound(f"station {station_id!r} does not exist")


async def _get(
    session: AsyncSession, station_id: str, upstream_id: int, principal: Principal | None
) -> Upstream:
    await _station(session, station_id, principal)
    upstream = await session.get(Upstream, upstream_id)
    if upstream is None or upstream.station_id != station_id:
        raise NotFound(f"station {station_id!r} has no upstream {upstream_id}")
    return upstream


async def _refuse_second_billing(session: AsyncSession, station_id: str, except_id: int | None) -> None:
    query = select(Upstream.id).where(Upstream.station_id == station_id, Upstream.role == Role.BILLING.value)
    if except_id is not None:
        query = query.where(Upstream.id != except_id)
    other = await session.scalar(query)
    if other is not None:
        raise Conflict(
            f"station {station_id!r} already has a Billing upstream (id {other}); only one party decides "
            "authorization for a charger: make that one Data & Control or delete it first"
        )


def _unique_violation(exc: IntegrityError) -> bool:
    # Two requests raced past `_refuse_second_billing`; the partial unique index stopped the second.
    return "unique" in str(exc.orig).lower()


def _billing_conflict(station_id: str) -> Conflict:
    return Conflict(f"station {station_id!r} already has a Billing upstream; only one is allowed")

"""Fixtures for the multiplexer: running apps with fast leg backoff, and upstream servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.proxy.upstream import UpstreamServer
from voltbridge.app import App
from voltbridge.core.upstreams import LegState, LegStatus, Role, UpstreamSpec
from voltbridge.proxy import ProxyOptions

# Reconnects in tens of milliseconds, so tests that kill upstreams do not wait for the real 1 s base.
FAST = ProxyOptions(
    backoff_base=0.02, backoff_max=0.2, call_timeout=5.0, ping_interval=None, command_timeout=5.0
)


class Apps:
    """Starts apps on one database; stops them at the end (or earlier, to restart)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.running: list[App] = []

    async def start(self, *, http: bool = False, options: ProxyOptions = FAST, **overrides: Any) -> App:
        app = App.build(make_settings(self.database_url, **overrides), proxy_options=options)
        await app.start(migrate=False, http=http)
        self.running.append(app)
        return app

    async def stop(self, app: App) -> None:
        self.running.remove(app)
        await app.stop()


@pytest.fixture
async def apps(database_url: str) -> AsyncIterator[Apps]:
    started = Apps(database_url)
    yield started
    for app in reversed(started.running):
        await app.stop()


@pytest.fixture
async def app(apps: Apps) -> App:
    """A running voltbridge (OCPP only) whose legs back off fast."""
    return await apps.start()


UpstreamFactory = Callable[..., Awaitable[UpstreamServer]]


@pytest.fixture
async def upstream() -> AsyncIterator[UpstreamFactory]:
    """Start upstream servers (`await upstream("billing", first_transaction_id=…)`); closed at the end."""
    servers: list[UpstreamServer] = []

    async def factory(name: str, **kwargs: Any) -> UpstreamServer:
        server = UpstreamServer(name, **kwargs)
        await server.start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        await server.close()


async def connect_upstream(app: App, station_id: str, server: UpstreamServer, role: Role, **spec: Any) -> int:
    """Register `server` as an upstream of the station and wait until its leg has re-synced."""
    upstream = await app.upstreams.create(station_id, UpstreamSpec(url=server.url, role=role, **spec))
    return upstream.id


async def wait_state(
    app: App, upstream_id: int, check: Callable[[LegState], bool], timeout: float = 10.0
) -> LegState:
    """Wait until the leg's live state satisfies `check` (polled: the state has no change signal)."""
    async with asyncio.timeout(timeout):
        while True:
            state = app.proxy.state(upstream_id)
            if state is not None and check(state):
                return state
            await asyncio.sleep(0.01)


def is_connected(state: LegState) -> bool:
    return state.status is LegStatus.CONNECTED

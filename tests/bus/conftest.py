"""Buses for the contract suite: LocalBus, one NatsBus, and two NatsBus nodes sharing a namespace.

NATS tests run against VOLTBRIDGE_TEST_NATS_URL (default nats://127.0.0.1:4222, with JetStream)
and are skipped, with the reason shown, when it is unreachable; with VOLTBRIDGE_TEST_NATS=required
an unreachable server fails the run instead. Each test gets its own subject namespace, so runs
sharing a server do not see each other.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats.errors
import pytest
from nats.aio.client import Client

from voltbridge.bus import Bus, LocalBus
from voltbridge.bus.nats import NatsBus

NATS_URL = os.environ.get("VOLTBRIDGE_TEST_NATS_URL", "nats://127.0.0.1:4222")
NATS_REQUIRED = os.environ.get("VOLTBRIDGE_TEST_NATS") == "required"


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The test NATS server's URL, if a TCP connection to it opens."""
    parts = urlsplit(NATS_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2).close()
    except OSError as exc:
        if NATS_REQUIRED:
            pytest.fail(f"VOLTBRIDGE_TEST_NATS=required but NATS at {NATS_URL} is unreachable: {exc!r}")
        pytest.skip(
            f"NATS tests skipped: {NATS_URL} unreachable ({exc!r}); start nats-server -js to run them"
        )
    return NATS_URL


NatsFactory = Callable[..., Awaitable[NatsBus]]


@pytest.fixture
async def make_nats(nats_url: str) -> AsyncIterator[NatsFactory]:
    """NatsBus nodes in one fresh namespace, closed at the end; its directory bucket is deleted."""
    namespace = f"t{uuid.uuid4().hex[:12]}"
    made: list[NatsBus] = []

    async def factory(node_id: str = "a", *, start: bool = True, **options: Any) -> NatsBus:
        options.setdefault("call_grace", 0.3)
        options.setdefault("heartbeat", 1.0)
        bus = NatsBus(nats_url, node_id=node_id, namespace=namespace, **options)
        made.append(bus)
        if start:
            await bus.start()
        return bus

    yield factory
    for bus in reversed(made):
        await bus.close()
    nc = Client()
    await nc.connect(servers=[nats_url])
    with contextlib.suppress(nats.errors.Error):
        await nc.jetstream().delete_key_value(f"{namespace}_stations")
    await nc.close()


@dataclass
class Nodes:
    """Where commands are sent from and events published (`caller`), and where stations live and
    subscribers listen (`holder`). For LocalBus and a single NatsBus both are the same bus."""

    caller: Bus
    holder: Bus
    kind: str

    @property
    def remote(self) -> bool:
        return self.caller is not self.holder


NodesFactory = Callable[..., Awaitable[Nodes]]
LocalFactory = Callable[..., Awaitable[LocalBus]]


@pytest.fixture
async def make_local() -> AsyncIterator[LocalFactory]:
    """LocalBus instances, closed at the end."""
    made: list[LocalBus] = []

    async def factory(*, start: bool = True, **options: Any) -> LocalBus:
        bus = LocalBus(**options)
        made.append(bus)
        if start:
            await bus.start()
        return bus

    yield factory
    for bus in reversed(made):
        await bus.close()


@pytest.fixture(params=["local", "nats-one-node", "nats-two-nodes"])
def make_nodes(request: pytest.FixtureRequest) -> NodesFactory:
    """Build the buses of one kind; options (queue_limit, start) go to each bus."""
    kind: str = request.param
    if kind == "local":
        make_local: LocalFactory = request.getfixturevalue("make_local")

        async def local(**options: Any) -> Nodes:
            bus = await make_local(**options)
            return Nodes(bus, bus, kind)

        return local
    make_nats: NatsFactory = request.getfixturevalue("make_nats")

    async def cluster(**options: Any) -> Nodes:
        holder = await make_nats("holder", **options)
        if kind == "nats-one-node":
            return Nodes(holder, holder, kind)
        return Nodes(await make_nats("caller", **options), holder, kind)

    return cluster


@pytest.fixture
async def nodes(make_nodes: NodesFactory) -> Nodes:
    return await make_nodes()

"""What the bus tests share: test events, a fake station handler, a subscriber that collects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from voltbridge.bus import Event


@dataclass(frozen=True, kw_only=True)
class Ping(Event):
    topic: ClassVar[str] = "test.bus.ping"
    n: int
    at: datetime
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class LoudPing(Ping):
    """A subclass with a topic of its own: subscribers to Ping get it too."""

    topic: ClassVar[str] = "test.bus.loud_ping"


@dataclass(frozen=True, kw_only=True)
class Pong(Event):
    topic: ClassVar[str] = "test.bus.pong"
    n: int


@dataclass(frozen=True, kw_only=True)
class Reading(Event):
    """A reading: a newer one of the same meter at a site may replace one still queued."""

    topic: ClassVar[str] = "test.bus.reading"
    ordered_by: ClassVar[str] = "site"
    latest_by: ClassVar[tuple[str, ...]] = ("meter",)
    site: str
    meter: int
    value: int


@dataclass(frozen=True, kw_only=True)
class Happening(Event):
    """Something that happened at a site: kept in order with the site's readings, never dropped."""

    topic: ClassVar[str] = "test.bus.happening"
    ordered_by: ClassVar[str] = "site"
    site: str
    n: int


class Collector:
    """A subscriber that keeps what it gets; `gate`, when given, holds each delivery until set."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.events: list[Event] = []
        self.entered = asyncio.Event()
        self.gate = gate

    async def __call__(self, event: Event) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        self.events.append(event)


class FakeStation:
    """A CallHandler: answers with `answer`, or raises `error`, after `gate` opens (if any)."""

    def __init__(
        self,
        answer: dict[str, Any] | None = None,
        *,
        error: BaseException | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.answer = answer if answer is not None else {"status": "Accepted"}
        self.error = error
        self.gate = gate
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.calls.append((action, payload, timeout))
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.answer


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for something another task or node will make true; the deadline fails the test."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)

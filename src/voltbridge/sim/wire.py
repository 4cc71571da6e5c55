"""The charger's end of its OCPP connection: CALLs out (counted, timed, errors translated) and the
signal that lets every waiter know the charger's state changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ocpp.exceptions import OCPPError

from voltbridge.sim.commands import CommandLink
from voltbridge.sim.errors import CallFailed, NotConnected
from voltbridge.sim.latency import LatencyHistogram
from voltbridge.sim.state import MessageCounters
from voltbridge.sim.types import RegistrationStatus

log = logging.getLogger("voltbridge.sim")


class Wire:
    """Connection state, the CALL path and the change signal of one charger."""

    def __init__(self, station_id: str, *, response_timeout: float, validate_schemas: bool) -> None:
        self.station_id = station_id
        self.response_timeout = response_timeout
        self.validate_schemas = validate_schemas
        self.link: CommandLink | None = None
        self.connected = False
        self.booted = False
        self.registration_status: RegistrationStatus | None = None
        self.counters = MessageCounters()
        self.latency = LatencyHistogram()
        self.errors = 0
        self.last_error: str | None = None
        self._changed = asyncio.Event()
        # One CALL in flight (OCPP-J 4.1.1). Our own lock, taken before the clock starts, so the
        # measured latency is the backend's answer time and not the wait for our turn.
        self._lock = asyncio.Lock()

    def may_send(self, *, triggered: bool = False) -> bool:
        """True when a message may go out: connected, and booted unless a TriggerMessage asked for it."""
        return self.connected and (self.booted or triggered)

    async def call(self, payload: object, *, latency: LatencyHistogram | None = None) -> Any:
        """Send a CALL and return the answer payload; see ``SimulatedCharger.call``."""
        action = type(payload).__name__
        async with self._lock:
            # Read the link under the lock: a reconnect may have replaced it while we waited.
            link = self.link
            if link is None:
                raise NotConnected(self.station_id, action)
            self.counters.sent[action] += 1
            task = asyncio.current_task()
            cancels = 0 if task is None else task.cancelling()
            started = time.perf_counter()
            try:
                result = await link.call(
                    payload, suppress=False, skip_schema_validation=not self.validate_schemas
                )
            except OCPPError as exc:
                raise self._failed(action, f"{type(exc).__name__}: {exc.description}") from exc
            except TimeoutError as exc:
                if task is not None and task.cancelling() > cancels:
                    raise asyncio.CancelledError from exc
                raise self._failed(action, f"no answer within {self.response_timeout:g} s") from exc
            elapsed = time.perf_counter() - started
            if task is not None and task.cancelling() > cancels:
                # The ocpp package waits for answers with asyncio.wait_for, which on Python 3.11
                # drops a cancellation that arrives together with the answer. Hand it back, or a
                # task group tearing down a connection waits for this task for ever.
                raise asyncio.CancelledError
        self.latency.record(elapsed)
        if latency is not None:
            latency.record(elapsed)
        self.counters.answered[action] += 1
        self.notify()
        return result

    def _failed(self, action: str, reason: str) -> CallFailed:
        self.counters.failed[action] += 1
        failure = CallFailed(self.station_id, action, reason)
        self.record_error(str(failure))
        return failure

    def record_error(self, message: str) -> None:
        """Count an error and keep its message as ``last_error``."""
        self.errors += 1
        self.last_error = message
        log.warning("%s", message)
        self.notify()

    def notify(self) -> None:
        """Wake every waiter once; each checks its own condition and waits on the fresh event."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """True once ``predicate()`` holds, False if ``timeout`` seconds pass first (None: no limit)."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            return predicate()
        return True

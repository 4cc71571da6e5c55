"""One charger's socket: correlation, one CALL in flight each way, timeouts, and CALLERRORs for bad input.

The transport hands every message to `message_received` as it arrives. Answers to our own CALLs are
resolved there at once; incoming CALLs are handled one at a time, in order, by a worker task; so a
handler that waits (on the database, on an authority) never blocks the answer to a command. Outgoing
CALLs queue on a lock: OCPP allows one in flight per direction. A charger that sends CALLs faster
than they are handled (it should wait for each answer) is read no further until the worker catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from voltbridge.bus import CallRejected, CallTimeout, NotConnected, QueueFull
from voltbridge.core.errors import InvalidInput, NotFound, VoltbridgeError
from voltbridge.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    FrameError,
    IdSource,
    decode,
    encode,
    new_unique_id,
)
from voltbridge.ocpp.hooks import ChargerTraffic
from voltbridge.ocpp.protocol import OcppError, OcppVersion
from voltbridge.ocpp.transport import Transport, TransportClosed
from voltbridge.ocpp.validation import Quirk, ValidationFailed, Validators

log = logging.getLogger(__name__)

Handler = Callable[["Connection", dict[str, Any]], Awaitable[dict[str, Any]]]
Router = dict[str, Handler]
QuirkSink = Callable[[str, list[Quirk]], Awaitable[None]]


@dataclass
class ConnectionStats:
    calls_in: int = 0
    calls_out: int = 0
    errors_sent: int = 0
    late_answers: int = 0
    timeouts: int = 0
    quirks: int = 0
    waiting: int = 0
    last_error: str | None = None
    actions_in: dict[str, int] = field(default_factory=dict)


_serial = itertools.count(1)


class Connection:
    """A charger's open socket and everything that is in flight on it."""

    def __init__(
        self,
        station_id: str,
        version: OcppVersion,
        transport: Transport,
        router: Router,
        *,
        validators: Validators,
        traffic: ChargerTraffic,
        lenient: bool = False,
        on_quirks: QuirkSink | None = None,
        queue_limit: int = 100,
        incoming_limit: int = 8,
        ids: IdSource = new_unique_id,
    ) -> None:
        self.station_id = station_id
        self.version = version
        self.transport = transport
        self.serial = next(_serial)
        self.lenient = lenient
        self.stats = ConnectionStats()
        self._router = router
        self._validators = validators
        self._traffic = traffic
        self._on_quirks = on_quirks
        self._queue_limit = queue_limit
        # CALLs from the charger, handled one at a time by `_work`, which waits on `_arrival` when
        # there are none (a deque and a future: asyncio.Queue's get and put, with its loop lookup and
        # getter bookkeeping, were ~5 % of the event loop under a meter stream, by py-spy).
        self._incoming: deque[Call] = deque()
        self._arrival: asyncio.Future[None] | None = None
        self._incoming_limit = incoming_limit
        self._reading_paused = False
        self._send_lock = asyncio.Lock()
        self._in_flight: tuple[str, asyncio.Future[CallResult | CallError]] | None = None
        self._ids = ids
        self._closed = asyncio.Event()
        self.close_reason: str | None = None

    async def serve(self) -> str:
        """Run until the socket closes; returns why it closed."""
        worker = asyncio.create_task(self._work(), name=f"ocpp-worker-{self.station_id}")
        self.transport.attach(self)
        try:
            reason = await self.transport.wait_closed()
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            self._closed.set()
            self._fail_in_flight()
        if self.close_reason is None:
            self.close_reason = reason
        return self.close_reason

    def drop(self, reason: str) -> None:
        """Close the socket without a Close frame (replaced by a newer socket, or shutting down)."""
        self.close_reason = reason
        self.transport.abort()

    async def call(self, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a CALL to the charger, after the one in flight; returns the CALLRESULT payload."""
        if self._closed.is_set():
            raise NotConnected(self.station_id)
        if self.stats.waiting >= self._queue_limit:
            raise QueueFull(self.station_id)
        self.stats.waiting += 1
        queued = True
        try:
            async with asyncio.timeout(timeout), self._send_lock:
                queued = False
                self.stats.waiting -= 1
                return await self._call_now(action, payload)
        except TimeoutError as exc:
            self.stats.timeouts += 1
            raise CallTimeout(self.station_id) from exc
        finally:
            if queued:
                self.stats.waiting -= 1

    async def _call_now(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        unique_id = self._ids()
        future: asyncio.Future[CallResult | CallError] = asyncio.get_running_loop().create_future()
        self._in_flight = (unique_id, future)
        try:
            self._write(encode(Call(unique_id, action, payload)))
            self.stats.calls_out += 1
            answer = await future
        except TransportClosed as exc:
            raise NotConnected(self.station_id) from exc
        finally:
            self._in_flight = None
        if isinstance(answer, CallError):
            raise CallRejected(answer.code, answer.description, dict(answer.details))
        response, quirks = self._validators.check_response(action, answer.payload, lenient=True)
        await self._report_quirks(action, quirks)
        return response

    def message_received(self, data: bytes) -> None:
        """A message from the charger (called by the transport as it arrives)."""
        try:
            frame = decode(data, self.version)
        except FrameError as exc:
            with contextlib.suppress(TransportClosed):
                self._refuse_frame(exc)
            return
        if isinstance(frame, Call):
            self._incoming.append(frame)
            arrival = self._arrival
            if arrival is not None and not arrival.done():
                arrival.set_result(None)
            if len(self._incoming) >= self._incoming_limit and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
        else:
            self._resolve(frame)

    def _refuse_frame(self, exc: FrameError) -> None:
        self.stats.last_error = exc.description
        reply = exc.reply()
        if reply is not None:
            self._send_error(reply.unique_id, reply.code, reply.description)
        elif exc.unique_id is not None:
            # A broken answer to our CALL: fail that CALL rather than let it time out.
            self._resolve(CallError(exc.unique_id, exc.code, exc.description, {}))
        else:
            log.warning("%s sent an unreadable frame: %s", self.station_id, exc.description)

    def _resolve(self, frame: CallResult | CallError) -> None:
        if self._in_flight is not None and self._in_flight[0] == frame.unique_id:
            future = self._in_flight[1]
            if not future.done():
                future.set_result(frame)
            return
        self.stats.late_answers += 1
        log.info("%s answered %s, which is no longer in flight", self.station_id, frame.unique_id)

    def _fail_in_flight(self) -> None:
        if self._in_flight is not None and not self._in_flight[1].done():
            self._in_flight[1].set_exception(TransportClosed(self.close_reason or "closed"))

    async def _work(self) -> None:
        incoming = self._incoming
        loop = asyncio.get_running_loop()
        while True:
            if not incoming:
                self._arrival = loop.create_future()
                await self._arrival
                continue
            call = incoming.popleft()
            if self._reading_paused and len(incoming) < self._incoming_limit // 2:
                self._reading_paused = False
                self.transport.resume_reading()
            try:
                await self._handle(call)
            except TransportClosed:
                return

    async def _handle(self, call: Call) -> None:
        self.stats.calls_in += 1
        self.stats.actions_in[call.action] = self.stats.actions_in.get(call.action, 0) + 1
        handler = self._router.get(call.action)
        if handler is None:
            code = "NotSupported" if self._validators.knows(call.action) else "NotImplemented"
            self._send_error(call.unique_id, code, f"{call.action} is not handled by this central system")
            return
        try:
            payload, quirks = self._validators.check_request(
                call.action, dict(call.payload), lenient=self.lenient
            )
        except ValidationFailed as exc:
            self._send_error(call.unique_id, exc.code, exc.description)
            return
        await self._report_quirks(call.action, quirks)
        try:
            response = await handler(self, payload)
        except OcppError as exc:
            self._send_error(call.unique_id, exc.code, exc.description)
            return
        except (InvalidInput, NotFound) as exc:
            self._send_error(call.unique_id, "PropertyConstraintViolation", str(exc))
            return
        except VoltbridgeError as exc:
            self._send_error(call.unique_id, "GenericError", str(exc))
            return
        except Exception:
            log.exception("handling %s from %s failed", call.action, self.station_id)
            self._send_error(call.unique_id, "InternalError", "the central system failed to handle this")
            return
        try:
            await self._traffic.answered(self.station_id, call.action, payload, response)
        except Exception:
            log.exception("the multiplexer failed on %s from %s", call.action, self.station_id)
        self._write(encode(CallResult(call.unique_id, response)))

    async def _report_quirks(self, action: str, quirks: list[Quirk]) -> None:
        if quirks:
            self.stats.quirks += len(quirks)
            if self._on_quirks is not None:
                await self._on_quirks(self.station_id, quirks)

    def _send_error(self, unique_id: str, code: str, description: str) -> None:
        self.stats.errors_sent += 1
        self.stats.last_error = f"{code}: {description}"
        self._write(encode(CallError(unique_id, code, description[:255], {})))

    def _write(self, text: str) -> None:
        self.transport.send(text)

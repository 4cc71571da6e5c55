"""One leg: voltbridge as the charger, connected to one upstream backoffice.

The leg owns a WebSocket client to `<upstream url>/<station id>` (subprotocol ocpp1.6, HTTP Basic,
optional client certificate, pings), reconnects with exponential backoff and jitter, and on every
connect re-syncs the upstream (BootNotification from the last boot, a StatusNotification per
connector) before it sends what is queued, one CALL in flight, in order. CALLs from the upstream
pass the role filter and guard list, get our transaction ids, and go to the charger's single queue;
the answer returns under the upstream's own message id.

Nothing here ever raises into the charger's session: the leg's task catches at its boundary.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from voltbridge.bus import CallHandler, CallRejected, CallTimeout, NotConnected, QueueFull
from voltbridge.core.clock import Clock
from voltbridge.core.errors import NotFound
from voltbridge.core.stations.service import StationService
from voltbridge.core.timeutil import iso_utc
from voltbridge.core.upstreams import LegStatus, OutboxService, Role, TransactionLink
from voltbridge.ocpp.frames import Call, CallError, CallResult, FrameError, UniqueIds, decode, encode
from voltbridge.ocpp.protocol import OcppVersion
from voltbridge.proxy import policy
from voltbridge.proxy.ids import NAMES_TRANSACTION, TransactionMap, UnknownTransaction, down, up
from voltbridge.proxy.options import ProxyOptions
from voltbridge.proxy.queue import Outgoing, Payload, SendQueue
from voltbridge.proxy.stats import LegStats

log = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("ocpp1.6")


@dataclass(frozen=True, slots=True)
class LegConfig:
    """What a leg needs of its upstream's registration."""

    upstream_id: int
    station_id: str
    url: str
    role: Role
    password: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None

    def same_link(self, other: LegConfig) -> bool:
        """Whether `other` reaches the upstream the same way (then a change needs no reconnect)."""
        return (self.url, self.password, self.client_cert, self.client_key, self.ca_cert) == (
            other.url,
            other.password,
            other.client_cert,
            other.client_key,
            other.ca_cert,
        )


RoleSource = Callable[[int], Awaitable[Role | None]]
"""The upstream's role as stored now (None: deleted or disabled), read for every command it sends, so
a role changed through the API applies to the very next command, whichever node holds the leg."""


class LinkDown(Exception):
    """Raised inside a leg when its connection is no longer usable (closed, or an answer timed out)."""


# What an unreachable, refusing or broken upstream raises; anything else is a bug and logged as one.
EXPECTED = (LinkDown, OSError, InvalidHandshake, InvalidURI, TimeoutError, ConnectionClosed)


class UpstreamRefused(Exception):
    """Raised to whoever waits on a message the upstream answered with a CALLERROR."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code


class LegGone(Exception):
    """Raised to whoever waits on a message when the leg stopped or lost its link before the answer."""


class Leg:
    """One (station, upstream) leg and its task's body (`run`)."""

    def __init__(
        self,
        config: LegConfig,
        *,
        stations: StationService,
        outbox: OutboxService,
        clock: Clock,
        stats: LegStats,
        options: ProxyOptions,
        role_now: RoleSource | None = None,
    ) -> None:
        self.config = config
        self.stats = stats
        self.queue = SendQueue(options.queue_limit)
        self.ids = TransactionMap()
        self.charger: CallHandler | None = None
        self._stations = stations
        self._outbox = outbox
        self._clock = clock
        self._options = options
        self._unique_ids = UniqueIds()
        self._in_flight: tuple[str, asyncio.Future[CallResult | CallError]] | None = None
        self._write_lock = asyncio.Lock()
        self._commands = 0
        self._closing = False
        self._ssl: ssl.SSLContext | None = None
        self._role_now = role_now

    @property
    def upstream_id(self) -> int:
        return self.config.upstream_id

    @property
    def connected(self) -> bool:
        return self.stats.status is LegStatus.CONNECTED

    @property
    def uri(self) -> str:
        return f"{self.config.url}/{quote(self.config.station_id, safe='')}"

    def set_charger(self, send: CallHandler | None) -> None:
        """The charger connected (its command queue) or went away (None)."""
        self.charger = send
        self.queue.wake()

    def forward(self, action: str, payload: Payload) -> None:
        """Queue a charger message of a non-durable kind (bounded; the oldest is dropped)."""
        dropped = self.queue.push(Outgoing(action, payload))
        if dropped is not None:
            self.stats.dropped += 1
            self.stats.event(
                self._clock.now(), "dropped: the queue for this upstream is full", dropped.action
            )

    def forward_durable(
        self, entry_id: int, action: str, payload: Payload, transaction_id: int | None
    ) -> None:
        """Queue a charger message already stored in the outbox."""
        if action == "StartTransaction" and transaction_id is not None:
            self.ids.start_pending(transaction_id)
        self.queue.push(Outgoing(action, payload, entry_id=entry_id, transaction_id=transaction_id))

    async def ask(self, action: str, payload: Payload) -> Payload:
        """Send a message in order and wait for the upstream's answer (authorization requests).

        Raises UpstreamRefused for a CALLERROR and LegGone if the link breaks first. Cancelling the
        wait withdraws the message if it has not been sent yet.
        """
        reply: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        self.queue.push(Outgoing(action, payload, reply=reply))
        return await reply

    async def run(self) -> None:
        """Connect, serve and reconnect until stopped, or until the charger is gone and nothing waits."""
        try:
            await self._load()
            attempt = 0
            while not self._finished():
                answered_before = self.stats.messages_down
                try:
                    await self._connect_and_serve()
                except Exception as exc:
                    self._failed(exc)
                self._end_session()
                if self._finished():
                    break
                if self.stats.messages_down > answered_before:
                    attempt = 0  # the upstream worked: start the backoff again from its base
                await self._back_off(attempt)
                attempt += 1
        except Exception:
            log.exception("leg %s of %s stopped on an error", self.upstream_id, self.config.station_id)
        finally:
            self._end_session()
            left = self.queue.take_where(lambda i: False)
            for item in left:
                _fail_reply(item, LegGone("the leg stopped"))
            self.stats.dropped += sum(1 for item in left if item.droppable)
            self.stats.status = LegStatus.IDLE
            self.stats.next_attempt_at = None

    def _finished(self) -> bool:
        # Without a charger the leg stays only to deliver what is durable (or, while connected, anything).
        if self.charger is not None:
            return False
        return self.queue.durable == 0 and (len(self.queue) == 0 or not self.connected)

    async def _load(self) -> None:
        for link in await self._outbox.open_links(self.upstream_id):
            self.ids.learn(link.transaction_id, link.their_transaction_id)
        entries = await self._outbox.pending(self.upstream_id)
        loaded = []
        for entry in entries:
            if entry.action == "StartTransaction" and entry.transaction_id is not None:
                self.ids.start_pending(entry.transaction_id)
            loaded.append(Outgoing(entry.action, entry.payload, entry.id, entry.transaction_id))
        self.queue.merge_loaded(loaded)
        self.ids.loaded = True

    async def _back_off(self, attempt: int) -> None:
        ceiling = min(self._options.backoff_max, self._options.backoff_base * 2**attempt)
        # Half fixed, half random: legs of many chargers behind one upstream do not reconnect in step.
        delay = ceiling / 2 + self._options.random.uniform(0, ceiling / 2)
        self.stats.status = LegStatus.BACKING_OFF
        self.stats.next_attempt_at = self._clock.now() + timedelta(seconds=delay)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                while not self._finished():
                    await self.queue.changed()

    def _failed(self, exc: Exception) -> None:
        cause = _leaf(exc)
        text = _describe(cause)
        self.stats.error(self._clock.now(), text)
        if isinstance(cause, EXPECTED):
            log.info("leg %s of %s: %s", self.upstream_id, self.config.station_id, text)
        else:
            log.error(
                "leg %s of %s failed; reconnecting", self.upstream_id, self.config.station_id, exc_info=exc
            )

    def _end_session(self) -> None:
        for item in self.queue.take_where(lambda i: i.reply is None and not i.resync):
            _fail_reply(item, LegGone("the link to the upstream broke before it answered"))
        if self.stats.status is LegStatus.CONNECTED:
            self.stats.connected_since = None
        self.stats.status = LegStatus.CONNECTING

    async def _connect_and_serve(self) -> None:
        self.stats.status = LegStatus.CONNECTING
        self.stats.next_attempt_at = None
        if self._ssl is None and self.config.url.startswith("wss:"):
            self._ssl = await asyncio.to_thread(_ssl_context, self.config)
        headers = {}
        if self.config.password is not None:
            token = base64.b64encode(f"{self.config.station_id}:{self.config.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        async with connect(
            self.uri,
            subprotocols=[SUBPROTOCOL],
            additional_headers=headers,
            ssl=self._ssl,
            proxy=None,
            open_timeout=self._options.connect_timeout,
            ping_interval=self._options.ping_interval,
            ping_timeout=self._options.ping_interval,
            close_timeout=2,
            compression=None,
            max_size=1 << 20,
            user_agent_header="voltbridge",
        ) as ws:
            await self._serve(ws)

    async def _serve(self, ws: ClientConnection) -> None:
        now = self._clock.now()
        self.stats.connections += 1
        if self.stats.connections > 1:
            self.stats.reconnects += 1
        self.stats.status = LegStatus.CONNECTED
        self.stats.connected_since = now
        self.stats.event(now, f"connected to {self.uri}")
        self._closing = False
        self.queue.take_where(lambda i: not i.resync)
        self.queue.push_front(await self._resync())
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._read(ws, tasks))
            await self._send_loop(ws)
            # Nothing left to deliver and the charger is gone: leave like a charger that goes offline.
            self._closing = True
            await ws.close()

    async def _resync(self) -> list[Outgoing]:
        """BootNotification from the charger's last boot and a StatusNotification per connector."""
        station_id = self.config.station_id
        try:
            station = await self._stations.get(station_id)
        except NotFound:
            return []
        items = []
        if station.boot_payload:
            items.append(Outgoing("BootNotification", dict(station.boot_payload), resync=True))
        for c in (await self._stations.connectors([station_id]))[station_id]:
            status: Payload = {"connectorId": c.connector_id, "errorCode": c.error_code, "status": c.status}
            for key, value in (
                ("info", c.info),
                ("vendorId", c.vendor_id),
                ("vendorErrorCode", c.vendor_error_code),
            ):
                if value:
                    status[key] = value
            status["timestamp"] = iso_utc(c.status_at)
            items.append(Outgoing("StatusNotification", status, resync=True))
        return items

    async def _send_loop(self, ws: ClientConnection) -> None:
        while True:
            item = self.queue.head()
            if item is None:
                if self._finished():
                    return
                await self.queue.changed()
                continue
            if item.reply is not None and item.reply.done():
                self.queue.remove(item)  # whoever asked stopped waiting before it was sent
                continue
            if item.droppable and item.attempts >= self._options.attempts:
                self.queue.remove(item)  # sent before, and the link broke each time: do not let it block
                self.stats.dropped += 1
                self.stats.event(self._clock.now(), "dropped after repeated failures", item.action)
                continue
            payload = self._prepare(item)
            if payload is None:
                self._skip(item)
                continue
            item.attempts += 1
            self.queue.in_flight = item
            try:
                answer = await self._call(ws, item.action, payload)
            finally:
                self.queue.in_flight = None
            self._answered(item, answer)
            self.queue.remove(item)

    def _prepare(self, item: Outgoing) -> Payload | None:
        """The payload as this upstream must see it, or None if it must not get the message."""
        if item.action in NAMES_TRANSACTION and item.transaction_id is not None:
            theirs = self.ids.theirs(item.transaction_id)
            return None if theirs is None else up(item.payload, theirs)
        return item.payload

    def _skip(self, item: Outgoing) -> None:
        self.queue.remove(item)
        if item.entry_id is not None:
            self._outbox.delivered(item.entry_id)
        self.stats.skipped += 1
        self.stats.event(
            self._clock.now(),
            f"not sent: this upstream never learned transaction {item.transaction_id}",
            item.action,
        )

    def _answered(self, item: Outgoing, answer: CallResult | CallError) -> None:
        if item.reply is not None:
            if item.reply.done():
                pass
            elif isinstance(answer, CallResult):
                item.reply.set_result(answer.payload)
            else:
                item.reply.set_exception(UpstreamRefused(answer.code, answer.description))
        if item.entry_id is None:
            return
        ours = item.transaction_id
        if item.action == "StartTransaction" and ours is not None:
            theirs = answer.payload.get("transactionId") if isinstance(answer, CallResult) else None
            if isinstance(theirs, int) and not isinstance(theirs, bool):
                self.ids.learn(ours, theirs)
                self._outbox.delivered(item.entry_id, learn=TransactionLink(self.upstream_id, ours, theirs))
                return
            self.ids.start_failed(ours)
            self.stats.event(
                self._clock.now(), f"no transactionId learned for transaction {ours}", item.action
            )
        elif item.action == "StopTransaction" and ours is not None:
            self.ids.close(ours)
            self._outbox.delivered(item.entry_id, close=(self.upstream_id, ours))
            return
        self._outbox.delivered(item.entry_id)

    async def _call(self, ws: ClientConnection, action: str, payload: Payload) -> CallResult | CallError:
        unique_id = self._unique_ids()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[CallResult | CallError] = loop.create_future()
        self._in_flight = (unique_id, answer)
        try:
            await self._write(ws, encode(Call(unique_id, action, payload)))
            self.stats.up(self._clock.now(), "CALL", unique_id, action, payload)
            sent = loop.time()
            try:
                async with asyncio.timeout(self._options.call_timeout):
                    result = await answer
            except TimeoutError as exc:
                raise LinkDown(f"no answer to {action} within {self._options.call_timeout:g} s") from exc
            self.stats.last_latency_ms = round((loop.time() - sent) * 1000, 3)
            return result
        finally:
            self._in_flight = None

    async def _read(self, ws: ClientConnection, tasks: asyncio.TaskGroup) -> None:
        try:
            async for data in ws:
                self._received(ws, data, tasks)
        except ConnectionClosed as exc:
            if not self._closing:
                raise LinkDown(f"the upstream connection broke: {exc}") from exc
            return
        if not self._closing:
            raise LinkDown("the upstream closed the connection")

    def _received(self, ws: ClientConnection, data: str | bytes, tasks: asyncio.TaskGroup) -> None:
        now = self._clock.now()
        try:
            frame = decode(data, OcppVersion.V16)
        except FrameError as exc:
            self.stats.down(now, "INVALID", exc.unique_id, None, None, exc.description)
            answer = exc.reply()
            if answer is not None:
                tasks.create_task(self._reply(ws, answer))
            return
        if isinstance(frame, Call):
            self.stats.down(now, "CALL", frame.unique_id, frame.action, frame.payload)
            if self._commands >= self._options.max_commands:
                busy = _error(
                    frame, "GenericError", "too many commands from this upstream wait for the charger"
                )
                tasks.create_task(self._reply(ws, busy))
                return
            self._commands += 1
            tasks.create_task(self._command(ws, frame))
            return
        if isinstance(frame, CallResult):
            self.stats.down(now, "CALLRESULT", frame.unique_id, None, frame.payload)
        else:
            self.stats.down(
                now, "CALLERROR", frame.unique_id, None, None, f"{frame.code}: {frame.description}"
            )
        if self._in_flight is not None and self._in_flight[0] == frame.unique_id:
            if not self._in_flight[1].done():
                self._in_flight[1].set_result(frame)
        else:
            self.stats.event(now, f"answer to {frame.unique_id}, which is not in flight")

    async def _command(self, ws: ClientConnection, call: Call) -> None:
        try:
            answer = await self.execute(call)
        except Exception:
            log.exception("command %s from upstream %s failed", call.action, self.upstream_id)
            answer = CallError(call.unique_id, "InternalError", "voltbridge failed to relay this", {})
        finally:
            self._commands -= 1
        await self._reply(ws, answer)

    async def execute(self, call: Call) -> CallResult | CallError:
        """The answer to an upstream's CALL: a refusal, or the charger's answer under the upstream's id."""
        now = self._clock.now()
        if not policy.is_command(call.action):
            return _error(call, "NotImplemented", f"{call.action} is not a 1.6 command to a charger")
        role = await self._role_now(self.upstream_id) if self._role_now is not None else self.config.role
        if role is None:
            return _error(call, "SecurityError", "this upstream is no longer connected to the station")
        refusal = policy.check(role, call.action, call.payload)
        if refusal is not None:
            self.stats.refuse(call.action)
            self.stats.event(now, f"refused: {refusal.reason}", call.action)
            log.info("refused %s from upstream %s: %s", call.action, self.upstream_id, refusal.reason)
            if refusal.result is not None:
                return CallResult(call.unique_id, refusal.result)
            return _error(call, "SecurityError", refusal.reason)
        try:
            payload = down(call.action, call.payload, self.ids)
        except UnknownTransaction as exc:
            self.stats.event(now, f"rejected: {exc}", call.action)
            return CallResult(call.unique_id, {"status": "Rejected"})
        send = self.charger
        if send is None:
            return _error(call, "GenericError", "the charger is not connected")
        try:
            answer = await send(call.action, payload, self._options.command_timeout)
        except CallRejected as exc:
            return _error(call, exc.code, exc.description)
        except CallTimeout:
            return _error(
                call, "GenericError", f"the charger did not answer within {self._options.command_timeout:g} s"
            )
        except NotConnected:
            return _error(call, "GenericError", "the charger is not connected")
        except QueueFull:
            return _error(call, "GenericError", "too many commands wait for this charger")
        return CallResult(call.unique_id, answer)

    async def _reply(self, ws: ClientConnection, answer: CallResult | CallError) -> None:
        text = encode(answer)
        if isinstance(answer, CallResult):
            kind, payload, note = "CALLRESULT", answer.payload, None
        else:
            kind, payload, note = "CALLERROR", None, f"{answer.code}: {answer.description}"
        with contextlib.suppress(ConnectionClosed):
            await self._write(ws, text)
            self.stats.up(self._clock.now(), kind, answer.unique_id, None, payload, note)

    async def _write(self, ws: ClientConnection, text: str) -> None:
        async with self._write_lock:
            await ws.send(text)

    def fallback_used(self, action: str, why: BaseException) -> None:
        """Record that the charger got the fallback decision because this authority did not answer."""
        self.stats.fallbacks += 1
        text = _describe(why) if not isinstance(why, asyncio.CancelledError) else "no answer in time"
        self.stats.event(self._clock.now(), f"fallback decision used: {text}", action)
        self.stats.error(self._clock.now(), f"{action}: fallback decision used ({text})")


def _error(call: Call, code: str, description: str) -> CallError:
    return CallError(call.unique_id, code, description, {})


def _fail_reply(item: Outgoing, exc: Exception) -> None:
    if item.reply is not None and not item.reply.done():
        item.reply.set_exception(exc)


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, LinkDown) else f"{type(exc).__name__}: {text}"


def _ssl_context(config: LegConfig) -> ssl.SSLContext:
    """TLS for a wss:// upstream: system CAs (plus a private CA), and the leg's client certificate."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.ca_cert:
        context.load_verify_locations(cadata=config.ca_cert)
    if config.client_cert and config.client_key:
        # The ssl module loads certificates only from files: write them where only we can read, briefly.
        with tempfile.TemporaryDirectory(prefix="voltbridge-leg-") as folder:
            cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            for path, text in ((cert, config.client_cert), (key, config.client_key)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(text)
            context.load_cert_chain(cert, key)
    return context

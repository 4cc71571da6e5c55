"""The cluster bus: commands by NATS request/reply to the node holding the socket, events by subject.

Commands. A node that holds a charger's socket subscribes to `vb.station.<token>.call` (see
`subjects`). `call()` on the same node calls the handler directly; on any other node it is a NATS
request to that subject. No subscriber means no node holds the station (`NotConnected`); no
answer in `timeout` plus a small grace is `CallTimeout`. The handler's own bus errors
(`CallRejected`, `CallTimeout`, `NotConnected`, `QueueFull`) travel back in a JSON envelope and
are raised again on the caller's side:

    {"result": {...}}                                                   the CALLRESULT payload
    {"error": {"type": "CallRejected", "code": "...", "description": "...", "details": {...}}}
    {"error": {"type": "CallTimeout" | "NotConnected" | "QueueFull" | "BusError", "message": "..."}}

Events. `publish()` sends the event to `vb.event.<topic>`; every node subscribes to all events
once and hands each to its local subscriptions through the same queues as `LocalBus`
(bus/subscribers.py: ordered per scope, readings coalesced, nothing else dropped). So a subscriber
sees the events of every node, which is what the portal's live view wants. Work that must happen
once per cluster (OCPI pushes, webhooks) must not simply subscribe on every node; see
docs/cluster.md.

Reconnecting to NATS is nats-py's job; requests and publishes made while it reconnects wait in
its buffer. `close()` drains: it answers commands in progress, delivers the events already
received, and flushes what was published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from functools import partial
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from voltbridge.bus.base import (
    BusError,
    CallHandler,
    CallRejected,
    CallTimeout,
    E,
    Event,
    EventHandler,
    NotConnected,
    QueueFull,
    SubscriptionStats,
)
from voltbridge.bus.codec import CodecError, decode_event, encode_event, event_class
from voltbridge.bus.nats_directory import Holder, StationDirectory
from voltbridge.bus.subjects import Subjects
from voltbridge.bus.subscribers import Subscribers

log = logging.getLogger(__name__)

_ERRORS: dict[str, type[BusError]] = {
    "CallTimeout": CallTimeout,
    "NotConnected": NotConnected,
    "QueueFull": QueueFull,
}


class NatsBus:
    """A bus shared by every node of a cluster through one NATS server (or NATS cluster).

    `url` may list several servers separated by commas. `node_id` names this node in logs and
    in the station directory; give each node its own. `namespace` prefixes every subject, so
    several clusters (or test runs) can share a NATS server; `subjects` names them all.
    """

    def __init__(
        self,
        url: str,
        *,
        node_id: str,
        namespace: str = "vb",
        queue_limit: int = 10_000,
        heartbeat: float = 5.0,
        call_grace: float = 1.0,
        start_timeout: float = 10.0,
        close_timeout: float = 5.0,
    ) -> None:
        self._servers = [s.strip() for s in url.split(",") if s.strip()]
        self.node_id = node_id
        self.subjects = Subjects(namespace)
        self._heartbeat = heartbeat
        self._grace = call_grace
        self._start_timeout = start_timeout
        self._close_timeout = close_timeout
        self._me = Holder(node_id=node_id, instance=secrets.token_hex(8))
        self._probe = self.subjects.probe(self._me.instance)
        self._nc: Client | None = None
        self._directory: StationDirectory | None = None
        self._handlers: dict[str, CallHandler] = {}
        self._station_subs: dict[str, Subscription] = {}
        self._answering: set[asyncio.Task[None]] = set()
        self._subscribers = Subscribers(queue_limit)
        self._unknown_topics: set[str] = set()

    async def start(self) -> None:
        """Connect, subscribe to events and to the stations registered so far, read the directory."""
        nc = Client()
        try:
            async with asyncio.timeout(self._start_timeout):
                await nc.connect(
                    servers=self._servers,
                    name=f"voltbridge-{self.node_id}",
                    max_reconnect_attempts=-1,  # a node keeps trying; its chargers stay connected meanwhile
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            with contextlib.suppress(nats.errors.Error):
                await nc.close()
            raise BusError(f"cannot reach NATS at {', '.join(self._servers)}: {exc!r}") from exc
        self._nc = nc
        await nc.subscribe(self._probe, cb=self._on_probe)
        await nc.subscribe(self.subjects.events, cb=self._on_event)
        for station_id in list(self._handlers):
            await self._subscribe_station(nc, station_id)
        self._directory = StationDirectory(
            nc, self.subjects, self._me, heartbeat=self._heartbeat, on_lost=self._lost
        )
        await self._directory.start(timeout=self._start_timeout)
        for station_id in self._handlers:
            self._directory.claim(station_id)
        self._subscribers.start()

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        """Send a CALL to the station wherever its socket lives; returns its CALLRESULT payload."""
        handler = self._handlers.get(station_id)
        if handler is not None:
            return await _call_handler(station_id, handler, action, payload, timeout, self._grace)
        if self._nc is None or not station_id:
            raise NotConnected(station_id)
        request = json.dumps({"action": action, "payload": payload, "timeout": timeout, "from": self.node_id})
        try:
            msg = await self._nc.request(
                self.subjects.call(station_id), request.encode(), timeout=timeout + self._grace
            )
        except nats.errors.NoRespondersError as exc:
            raise NotConnected(station_id) from exc
        except nats.errors.TimeoutError as exc:
            raise CallTimeout(station_id) from exc
        except nats.errors.Error as exc:
            # Closed or draining: from here the station cannot be reached, which is what offline means.
            raise NotConnected(station_id) from exc
        return _unwrap(station_id, msg.data)

    async def register_station(self, station_id: str, handler: CallHandler) -> None:
        """Answer commands for the station here (replacing any earlier holder, here or elsewhere)."""
        self._handlers[station_id] = handler
        if self._nc is not None:
            await self._subscribe_station(self._nc, station_id)
        if self._directory is not None:
            self._directory.claim(station_id)

    async def unregister_station(self, station_id: str, handler: CallHandler) -> None:
        """Stop answering for the station, if `handler` is still the one registered."""
        # Equality, not identity: the gateway passes `conn.call`, and each attribute access makes
        # a new bound-method object (equal to the others when it binds the same connection).
        if self._handlers.get(station_id) != handler:
            return
        del self._handlers[station_id]
        await self._unsubscribe_station(station_id)
        if self._directory is not None:
            self._directory.release(station_id)

    def holds(self, station_id: str) -> bool:
        """Whether this node, or (as far as the directory knows) another live node, holds the station."""
        return self.holder(station_id) is not None

    def holder(self, station_id: str) -> str | None:
        """The node id holding the station's socket, if known."""
        if station_id in self._handlers:
            return self.node_id
        other = self._directory.holder(station_id) if self._directory is not None else None
        if other is None or other.instance == self._me.instance:
            return None  # our own stale entry: a release is on its way
        return other.node_id

    async def publish(self, event: Event) -> None:
        """Send the event to every node's subscribers; a NATS failure is logged, not raised."""
        body = encode_event(event)  # a CodecError here is a programming error: let it show
        if self._nc is None:
            log.warning("bus not started; %s not published", event.topic)
            return
        try:
            await self._nc.publish(self.subjects.event(event.topic), body)
        except nats.errors.Error as exc:
            log.warning("could not publish %s: %r", event.topic, exc)

    def subscribe(
        self, event_type: type[E], handler: EventHandler[E], *, name: str, concurrency: int = 1
    ) -> None:
        """Deliver events of `event_type` (and subclasses) from every node (see `Bus.subscribe`)."""
        self._subscribers.add(event_type, handler, name, concurrency)

    def stats(self) -> list[SubscriptionStats]:
        """Delivery statistics per subscription."""
        return self._subscribers.stats()

    async def drain(self) -> None:
        """Wait until every event received so far has been handled."""
        await self._subscribers.drain()

    async def close(self) -> None:
        """Answer the commands in progress, withdraw this node's stations, deliver and flush events."""
        nc, self._nc = self._nc, None
        if nc is None:
            return
        for station_id in list(self._station_subs):
            await self._unsubscribe_station(station_id)
        if self._answering:
            _, late = await asyncio.wait(self._answering, timeout=self._close_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._directory is not None:
            for station_id in self._handlers:
                self._directory.release(station_id)
            await self._directory.close(timeout=self._close_timeout)
            self._directory = None
        try:
            # Delivers what the server already sent us, then flushes our own publishes.
            await nc.drain()
        except nats.errors.Error:
            await nc.close()
        await self._subscribers.stop(drain_timeout=self._close_timeout)

    async def _subscribe_station(self, nc: Client, station_id: str) -> None:
        if station_id in self._station_subs:
            return
        sub = await nc.subscribe(self.subjects.call(station_id), cb=partial(self._on_call, station_id))
        if station_id in self._station_subs or station_id not in self._handlers:
            await sub.unsubscribe()  # a concurrent register or unregister finished first
            return
        self._station_subs[station_id] = sub
        await self._confirm(nc, station_id)

    async def _confirm(self, nc: Client, station_id: str) -> None:
        # Once the server has the subscription, a request from any node finds us; without this
        # round trip a command sent right after registration can see "no responders".
        # nc.flush() does not do: nats-py 2.16 writes its PING straight to the socket, ahead of
        # a SUB still in its pending buffer. A request to ourselves queues behind the SUB.
        try:
            await nc.request(self._probe, b"", timeout=self._start_timeout)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("subscription for %s not confirmed by NATS yet: %r", station_id, exc)

    async def _on_probe(self, msg: Msg) -> None:
        with contextlib.suppress(nats.errors.Error):
            await msg.respond(b"")

    async def _unsubscribe_station(self, station_id: str) -> None:
        sub = self._station_subs.pop(station_id, None)
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def _lost(self, station_id: str, holder: Holder) -> None:
        # The charger opened a newer socket on another node. The newest socket wins, as it does
        # within one gateway, so stop answering here; our socket is stale and will close.
        if self._handlers.pop(station_id, None) is not None:
            log.info("%s is now held by node %s; withdrawing it here", station_id, holder.node_id)
            await self._unsubscribe_station(station_id)

    async def _on_call(self, station_id: str, msg: Msg) -> None:
        # Each request gets its own task so the station's queue (one CALL in flight, QueueFull
        # beyond its limit) decides, not the order of NATS callbacks.
        task = asyncio.create_task(self._answer(station_id, msg), name=f"bus-answer-{station_id}")
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, station_id: str, msg: Msg) -> None:
        try:
            reply = await self._run_call(station_id, msg.data)
            if reply is None:
                return
            try:
                body = json.dumps(reply).encode()
            except (TypeError, ValueError) as exc:  # a handler answered with something not JSON
                body = json.dumps(_error("BusError", f"unsendable answer from {station_id}: {exc}")).encode()
            await msg.respond(body)
        except Exception:
            log.exception("could not answer a command for %s", station_id)

    async def _run_call(self, station_id: str, data: bytes) -> dict[str, Any] | None:
        try:
            request = json.loads(data)
            action, payload, timeout = request["action"], request["payload"], float(request["timeout"])
            if not isinstance(action, str) or not isinstance(payload, dict):
                raise TypeError("action must be a string and payload an object")
        except (ValueError, KeyError, TypeError) as exc:
            return _error("BusError", f"malformed command request: {exc}")
        handler = self._handlers.get(station_id)
        if handler is None:
            # Withdrawn between the request and now. If another node holds it, let that one answer.
            return None if self.holds(station_id) else _error("NotConnected", station_id)
        try:
            result = await _call_handler(station_id, handler, action, payload, timeout, self._grace)
        except CallRejected as exc:
            return {
                "error": {
                    "type": "CallRejected",
                    "code": exc.code,
                    "description": exc.description,
                    "details": exc.details,
                }
            }
        except BusError as exc:
            name = type(exc).__name__
            return _error(name if name in _ERRORS else "BusError", str(exc))
        except Exception:
            log.exception("the handler for %s failed on %s", station_id, action)
            return _error("BusError", f"node {self.node_id} failed to handle {action}; see its log")
        return {"result": result}

    async def _on_event(self, msg: Msg) -> None:
        topic = msg.subject.removeprefix(self.subjects.event_prefix)
        try:
            cls = event_class(topic)
            if cls is None:
                if topic not in self._unknown_topics:
                    self._unknown_topics.add(topic)
                    log.warning("no event class for topic %s in this process; ignoring such events", topic)
                return
            wanted = self._subscribers.wanting(cls)
            if not wanted:
                return
            event = decode_event(topic, msg.data)
        except CodecError as exc:
            log.warning("dropped an undecodable %s event: %s", topic, exc)
            return
        for sub in wanted:
            sub.offer(event)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS (node %s): %r", self.node_id, exc)

    async def _on_disconnected(self) -> None:
        if self._nc is not None:  # None while we close on purpose
            log.warning("NATS (node %s): disconnected; reconnecting", self.node_id)

    async def _on_reconnected(self) -> None:
        log.info("NATS (node %s): reconnected", self.node_id)


async def _call_handler(
    station_id: str, handler: CallHandler, action: str, payload: dict[str, Any], timeout: float, grace: float
) -> dict[str, Any]:
    try:
        # The handler enforces the timeout itself; this is a safety net for a stuck handler.
        async with asyncio.timeout(timeout + grace):
            return await handler(action, payload, timeout)
    except TimeoutError as exc:
        raise CallTimeout(station_id) from exc


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def _unwrap(station_id: str, data: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(data)
    except ValueError as exc:
        raise BusError(f"{station_id}: unreadable reply from the node holding it") from exc
    result = reply.get("result") if isinstance(reply, dict) else None
    if isinstance(result, dict):
        return result
    error = reply.get("error") if isinstance(reply, dict) else None
    if not isinstance(error, dict):
        raise BusError(f"{station_id}: unreadable reply from the node holding it")
    kind = error.get("type")
    if kind == "CallRejected":
        details = error.get("details")
        raise CallRejected(
            str(error.get("code", "GenericError")),
            str(error.get("description", "")),
            details if isinstance(details, dict) else {},
        )
    if isinstance(kind, str) and kind in _ERRORS:
        raise _ERRORS[kind](station_id)
    raise BusError(f"{station_id}: {error.get('message', 'the node holding it failed')}")

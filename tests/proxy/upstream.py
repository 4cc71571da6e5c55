"""Upstream backoffices for the multiplexer's tests: small OCPP 1.6 central systems on loopback.

Each is the `ocpp` package's own `ChargePoint` with `@on` handlers on a real `websockets` server
(port 0), so our legs are checked against an independent implementation. A server records every
CALL it receives (camelCase, as on the wire), can send commands with a chosen message id, reject
chosen cards, stop answering, and be killed and restarted on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from ocpp.routing import on as _on
from ocpp.v16 import ChargePoint, call_result
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

H = TypeVar("H", bound=Callable[..., Any])


def on(action: str) -> Callable[[H], H]:
    """The `ocpp` package's `@on`, typed."""
    return cast(Callable[[H], H], _on(action))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Received:
    """A CALL the upstream received from a leg."""

    station_id: str
    action: str
    payload: dict[str, Any]
    unique_id: str


class _Peer(ChargePoint):  # type: ignore[misc]  # the ocpp package has no type information
    """The upstream's side of one leg."""

    def __init__(self, station_id: str, ws: ServerConnection, server: UpstreamServer) -> None:
        super().__init__(station_id, ws, response_timeout=10)
        self.server = server

    async def route_message(self, raw_msg: str) -> None:
        msg = json.loads(raw_msg)
        if msg[0] == 2:
            await self.server.record(Received(self.id, msg[2], msg[3], msg[1]))
            if self.server.silent:
                await self.server.released.wait()  # an upstream that never answers
                return
        await super().route_message(raw_msg)

    @on("BootNotification")
    async def on_boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(current_time=now(), interval=600, status="Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=now())

    @on("StatusNotification")
    async def on_status(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": self.server.card_status(id_tag)})

    @on("StartTransaction")
    async def on_start(self, id_tag: str, **_: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(
            transaction_id=self.server.next_transaction_id(),
            id_tag_info={"status": self.server.card_status(id_tag)},
        )

    @on("StopTransaction")
    async def on_stop(self, **_: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction()

    @on("MeterValues")
    async def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on("DataTransfer")
    async def on_data_transfer(self, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="Accepted")


class UpstreamServer:
    """One upstream backoffice. `url` is what is registered; legs connect to `url/<station id>`."""

    def __init__(
        self,
        name: str,
        *,
        first_transaction_id: int = 1000,
        rejected: set[str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.rejected = rejected or set()
        self.silent = False
        self.released = asyncio.Event()
        self.received: list[Received] = []
        self.peers: dict[str, _Peer] = {}
        self.authorization: dict[str, str | None] = {}
        self.certificates: dict[str, Any] = {}  # station id -> the client certificate the leg showed
        self.connections = 0
        self.port = 0
        self.ssl = tls
        self._next_transaction_id = first_transaction_id
        self._server: Server | None = None
        self._sockets: set[ServerConnection] = set()
        self._changed = asyncio.Condition()

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl is not None else "ws"
        host = "localhost" if self.ssl is not None else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}/{self.name}"

    def next_transaction_id(self) -> int:
        self._next_transaction_id += 1
        return self._next_transaction_id

    def card_status(self, id_tag: str) -> str:
        return "Invalid" if id_tag in self.rejected else "Accepted"

    async def start(self) -> None:
        """Listen (again, on the same port after `kill`)."""
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            self.port,
            subprotocols=[Subprotocol("ocpp1.6")],
            ssl=self.ssl,
            ping_interval=None,
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def kill(self) -> None:
        """Vanish as a crashed server does: sockets dropped without a Close frame, port closed."""
        assert self._server is not None
        self._server.close(close_connections=False)
        for ws in list(self._sockets):
            ws.transport.abort()
        await self._server.wait_closed()
        self._server = None
        await self.wait(lambda: not self._sockets)

    async def close(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        station_id = ws.request.path.rsplit("/", 1)[-1]
        peer = _Peer(station_id, ws, self)
        async with self._changed:
            self._sockets.add(ws)
            self.peers[station_id] = peer
            self.authorization[station_id] = ws.request.headers.get("Authorization")
            tls = ws.transport.get_extra_info("ssl_object")
            self.certificates[station_id] = tls.getpeercert() if tls is not None else None
            self.connections += 1
            self._changed.notify_all()
        try:
            with contextlib.suppress(Exception):
                await peer.start()
        finally:
            async with self._changed:
                self._sockets.discard(ws)
                if self.peers.get(station_id) is peer:
                    del self.peers[station_id]
                self._changed.notify_all()

    async def record(self, message: Received) -> None:
        async with self._changed:
            self.received.append(message)
            self._changed.notify_all()

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds (checked whenever something arrives or a socket changes)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    def calls(self, action: str | None = None, station_id: str | None = None) -> list[Received]:
        return [
            m
            for m in self.received
            if (action is None or m.action == action) and (station_id is None or m.station_id == station_id)
        ]

    def actions(self, station_id: str | None = None) -> list[str]:
        return [m.action for m in self.calls(station_id=station_id)]

    def connected(self, station_id: str) -> bool:
        return station_id in self.peers

    async def send(self, station_id: str, payload: Any, *, unique_id: str | None = None) -> Any:
        """Send a command to the station's leg; a CALLERROR raises the `ocpp` package's exception."""
        return await self.peers[station_id].call(payload, suppress=False, unique_id=unique_id)

"""The transport seam: what a Connection needs from a WebSocket (so picows could replace websockets)."""

from __future__ import annotations

from typing import Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed


class TransportClosed(Exception):
    """Raised by `recv`/`send` when the peer or the network closed the socket."""


class Transport(Protocol):
    remote: str

    async def recv(self) -> str | bytes: ...

    async def send(self, message: str) -> None: ...

    def abort(self) -> None:
        """Drop the TCP connection without a Close frame (some chargers never reconnect after one)."""
        ...


class WebsocketsTransport:
    """`Transport` over a `websockets` server connection."""

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws
        peer = ws.remote_address
        self.remote = f"{peer[0]}:{peer[1]}" if peer else "?"

    async def recv(self) -> str | bytes:
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise TransportClosed(str(exc)) from exc

    async def send(self, message: str) -> None:
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise TransportClosed(str(exc)) from exc

    def abort(self) -> None:
        self._ws.transport.abort()

"""A lean OCPP-J load client: WebSocket framing by hand on an asyncio Protocol.

A benchmark must measure the server, not the client. A `websockets` client costs about as much CPU
per message as the server it loads, so on a 2-core machine it would cap the figure. This client
sends prepared text frames (client frames must be masked; the mask key here is zero, which the
protocol permits the server not to care about) and reads unmasked server frames.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from typing import cast


def _frame(text: str) -> bytes:
    payload = text.encode()
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return header + b"\x00\x00\x00\x00" + payload  # zero mask key: payload XOR 0 is the payload


class _Socket(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.handshaken = asyncio.get_running_loop().create_future()
        self.waiter: asyncio.Future[str] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.handshaken.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.handshaken.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.handshaken.set_result(None)
        self._frames()

    def _frames(self) -> None:
        while len(self.buffer) >= 2:
            opcode = self.buffer[0] & 0x0F
            n = self.buffer[1] & 0x7F
            offset = 2
            if n == 126:
                if len(self.buffer) < 4:
                    return
                n = struct.unpack_from("!H", self.buffer, 2)[0]
                offset = 4
            elif n == 127:
                if len(self.buffer) < 10:
                    return
                n = struct.unpack_from("!Q", self.buffer, 2)[0]
                offset = 10
            if len(self.buffer) < offset + n:
                return
            payload = bytes(self.buffer[offset : offset + n])
            del self.buffer[: offset + n]
            if opcode == 0x1 and self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(payload.decode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshaken.done():
            self.handshaken.set_exception(ConnectionError("closed during the handshake"))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))


class RawClient:
    """One charger's socket; `exchange` sends a frame and returns the next text frame received."""

    def __init__(self, protocol: _Socket) -> None:
        self._p = protocol

    @classmethod
    async def connect(cls, host: str, port: int, path: str, subprotocol: str = "ocpp1.6") -> RawClient:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Socket, host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
        )
        assert protocol.transport is not None
        protocol.transport.write(request.encode())
        await protocol.handshaken
        return cls(protocol)

    async def exchange(self, text: str) -> str:
        self._p.waiter = asyncio.get_running_loop().create_future()
        assert self._p.transport is not None
        self._p.transport.write(_frame(text))
        return await self._p.waiter

    def close(self) -> None:
        if self._p.transport is not None:
            self._p.transport.close()


async def timed(
    client: RawClient, text: str, clock: Callable[[], float] = time.perf_counter
) -> tuple[str, float]:
    started = clock()
    answer = await client.exchange(text)
    return answer, clock() - started

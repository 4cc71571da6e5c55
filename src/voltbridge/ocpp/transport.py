"""The charger's WebSocket: RFC 6455 on an asyncio Protocol, framed by websockets' sans-I/O state machine.

Why not the `websockets` asyncio server: its connection object costs a task wake-up, a queue hand-over
and a send lock per message; under load it took as much CPU as everything else the central system
does (docs/performance.md). Here, `data_received` feeds websockets' `ServerProtocol` (which parses
frames, answers pings, echoes close frames and enforces the message size) and hands every complete
message to the attached `MessageSink` at once; `send` writes synchronously to the socket.

Almost every frame a charger sends is a whole text message in one masked frame, and almost every
frame we send is one unmasked text frame. Those two cases are framed here, in a few lines, while the
state machine is open and between frames (its parse generator and frame objects cost more than the
rest of the message's framing); everything else, including a frame that is split across reads, a
fragment, a control frame or anything malformed, goes through websockets as before.

The opening handshake stays asynchronous: reading pauses when the HTTP request is complete, the
gateway decides (station lookup, password check) in its own task, then answers with `refuse` or
`accept`, and reading resumes once a sink is attached. Messages pipelined behind the request wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, cast

from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets without its C extension
    from websockets.utils import apply_mask

log = logging.getLogger(__name__)

SERVER_NAME = "voltbridge"


class TransportClosed(Exception):
    """Raised by `send` when the peer or the network closed the socket."""


class MessageSink(Protocol):
    """What receives a socket's messages: called from the event loop, must not block."""

    def message_received(self, data: bytes) -> None: ...


class Transport(Protocol):
    """What a `Connection` needs from its socket."""

    remote: str

    def attach(self, sink: MessageSink) -> None:
        """Start delivering messages (and any that arrived before) to `sink`."""
        ...

    def send(self, message: str) -> None:
        """Write a text message; raises `TransportClosed` when the socket is gone."""
        ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def abort(self) -> None:
        """Drop the TCP connection without a Close frame (some chargers never reconnect after one)."""
        ...

    async def wait_closed(self) -> str:
        """Wait until the socket is closed; returns why, as far as the socket knows."""
        ...


@dataclass(frozen=True)
class SocketOptions:
    subprotocols: Sequence[str]
    max_message_bytes: int = 1 << 20
    # A ping every interval when set; nothing received (pong or else) by the next one drops the socket.
    ping_interval: float | None = 60.0
    # The whole HTTP request must arrive within this; the gateway's decision is not counted.
    open_timeout: float = 10.0
    # A peer that stops reading while we write is dropped rather than buffered without end.
    max_write_buffer: int = 4 << 20


SocketHandler = Callable[["ServerSocket"], Coroutine[Any, Any, None]]


class ServerSocket(asyncio.Protocol):
    """One WebSocket accepted by the server; `handler` runs in its own task once the request is read."""

    def __init__(self, handler: SocketHandler, options: SocketOptions) -> None:
        self._handler = handler
        self._options = options
        self._ws = ServerProtocol(
            subprotocols=[Subprotocol(p) for p in options.subprotocols],
            select_subprotocol=_first_supported,
            max_size=options.max_message_bytes,
            logger=log,
        )
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[str] = self._loop.create_future()  # done with the reason
        self._sink: MessageSink | None = None
        self._early: list[bytes] = []  # complete messages that arrived before a sink was attached
        self._fragments: list[bytes] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._awaiting_pong = False
        self._reason: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.request: Request | None = None
        self.remote = "?"

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        if peer:
            self.remote = f"{peer[0]}:{peer[1]}"
        self._timer = self._loop.call_later(self._options.open_timeout, self._open_timed_out)

    def data_received(self, data: bytes) -> None:
        # Any data proves the peer alive: some chargers answer pings late or never (FIELD-NOTES §7).
        self._awaiting_pong = False
        taken = self._plain_frames(data)
        if taken == len(data):
            return
        ws = self._ws
        ws.receive_data(data[taken:] if taken else data)
        for event in ws.events_received():
            if type(event) is Frame:
                self._frame(event)
            else:
                self._request(cast(Request, event))
        self._flush()

    def eof_received(self) -> bool | None:
        self._ws.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._reason is None:
            self._reason = f"connection lost: {exc}" if exc else self._close_frame_reason()
        if not self.closed.done():
            self.closed.set_result(self._reason)

    def pause_writing(self) -> None:
        """The peer reads slower than we write; `send` drops it when the buffer limit is passed."""

    def resume_writing(self) -> None:
        pass

    # The opening handshake, for the handler

    def get_extra_info(self, name: str) -> Any:
        return None if self._transport is None else self._transport.get_extra_info(name)

    def refuse(self, status: HTTPStatus, text: str, headers: dict[str, str] | None = None) -> None:
        """Answer the request with an HTTP error and close."""
        response = self._ws.reject(status, text)
        response.headers["Server"] = SERVER_NAME
        for name, value in (headers or {}).items():
            response.headers[name] = value
        self._respond(response)

    def accept(self) -> Subprotocol | None:
        """Answer 101 Switching Protocols; returns the subprotocol agreed (None: none offered).

        Raises `TransportClosed` when the request was not a valid WebSocket upgrade (it has been
        answered with the HTTP error already) or the socket closed meanwhile.
        """
        assert self.request is not None
        response = self._ws.accept(self.request)
        response.headers["Server"] = SERVER_NAME
        self._respond(response)
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            raise TransportClosed(f"handshake refused: {response.status_code} {response.body!r}")
        self._schedule_ping()
        return self._ws.subprotocol

    # Transport

    def attach(self, sink: MessageSink) -> None:
        self._sink = sink
        early, self._early = self._early, []
        for data in early:
            sink.message_received(data)
        self.resume_reading()

    def send(self, message: str) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise TransportClosed(self._reason or "closed")
        ws = self._ws
        payload = message.encode()
        if ws.state is State.OPEN and not ws.expect_continuation_frame and not ws.extensions:
            transport.write(_text_frame(payload))  # unmasked (a server's), FIN, text
        else:
            try:
                ws.send_text(payload)
            except InvalidState as exc:
                raise TransportClosed(str(exc)) from exc
            self._flush()
        if transport.get_write_buffer_size() > self._options.max_write_buffer:
            self._drop("the charger does not read what we send")

    def pause_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def wait_closed(self) -> str:
        return await asyncio.shield(self.closed)

    # Internals

    def _request(self, request: Request) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.request = request
        self.pause_reading()  # until the handler has decided and attached a sink
        self.task = self._loop.create_task(self._handler(self), name=f"ws-{self.remote}")

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        data = cast(bytes, frame.data)  # received frames hold bytes
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._deliver(data)
            else:
                self._fragments = [data]
        elif opcode is Opcode.CONT:
            # The state machine has checked the order and the total size of the fragments.
            assert self._fragments is not None
            self._fragments.append(data)
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), None
                self._deliver(data)
        # A PONG needs nothing more (data_received noted the peer alive). A PING is answered and a
        # CLOSE echoed by the state machine; their replies go out in _flush.

    def _plain_frames(self, data: bytes) -> int:
        """Deliver the whole masked text or binary frames at the start of `data` (the common case);
        returns how many bytes they took. Stops at anything else: the rest goes to websockets."""
        ws = self._ws
        sink = self._sink
        if (
            sink is None
            or ws.reader.buffer  # websockets holds part of a frame
            or ws.current_size is not None  # a fragmented message is in progress
            or ws.state is not State.OPEN
            or ws.extensions
            or ws.max_fragment_size is not None
        ):
            return 0
        limit = ws.max_message_size
        end = len(data)
        taken = 0
        while end - taken >= 6 and ws.state is State.OPEN:  # the sink may have closed the socket
            first, second = data[taken], data[taken + 1]
            # FIN, no reserved bits, text (0x81) or binary (0x82); masked, as a client's must be.
            if (first != 0x81 and first != 0x82) or second < 0x80:
                break
            length = second & 0x7F
            mask_at = taken + 2
            if length == 126:
                length = int.from_bytes(data[mask_at : mask_at + 2], "big")
                mask_at += 2
            elif length == 127:
                break
            start = mask_at + 4
            stop = start + length
            if stop > end or (limit is not None and length > limit):
                break
            sink.message_received(apply_mask(data[start:stop], data[mask_at:start]))
            taken = stop
        return taken

    def _deliver(self, data: bytes) -> None:
        if self._sink is None:
            self._early.append(data)
        else:
            self._sink.message_received(data)

    def _flush(self) -> None:
        transport = self._transport
        if transport is None:
            return
        for chunk in self._ws.data_to_send():
            if chunk:
                transport.write(chunk)
            else:
                # End of stream: a server closes TCP once its close frame (or HTTP refusal) is out.
                transport.close()
        if self._ws.close_expected() and not transport.is_closing():
            transport.close()

    def _respond(self, response: Any) -> None:
        if self._transport is None or self._transport.is_closing():
            raise TransportClosed(self._reason or "closed during the handshake")
        self._ws.send_response(response)
        self._flush()

    def _schedule_ping(self) -> None:
        if self._options.ping_interval:
            self._timer = self._loop.call_later(self._options.ping_interval, self._keepalive)

    def _keepalive(self) -> None:
        if self._awaiting_pong:
            self._drop("no answer to a keepalive ping")
            return
        try:
            self._ws.send_ping(b"")
        except InvalidState:
            return
        self._awaiting_pong = True
        self._flush()
        self._schedule_ping()

    def _open_timed_out(self) -> None:
        self._drop("no complete WebSocket request in time")

    def _drop(self, reason: str) -> None:
        self._reason = reason
        self.abort()

    def _close_frame_reason(self) -> str:
        close = self._ws.close_rcvd
        if close is None:
            return "closed by charger"
        return f"closed by charger ({close.code} {close.reason})".rstrip()


def _text_frame(payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)) + payload
    if length < 65536:
        return b"\x81\x7e" + length.to_bytes(2, "big") + payload
    return b"\x81\x7f" + length.to_bytes(8, "big") + payload


def _first_supported(protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    # The server's order wins; none in common (or none offered) opens without a subprotocol, and
    # the gateway decides what to do about it (it refuses before this when none is supported).
    for subprotocol in protocol.available_subprotocols or ():
        if subprotocol in offered:
            return subprotocol
    return None


async def serve_sockets(
    handler: SocketHandler,
    host: str,
    port: int,
    options: SocketOptions,
    *,
    ssl: Any = None,
    live: set[ServerSocket] | None = None,
) -> asyncio.Server:
    """Listen on host:port; every accepted socket runs `handler` once its request is read.

    `live`, when given, holds every open socket (handshaking ones too), so the owner can drop them all.
    """

    def accepted() -> ServerSocket:
        socket = ServerSocket(handler, options)
        if live is not None:
            live.add(socket)
            socket.closed.add_done_callback(lambda _: live.discard(socket))
        return socket

    loop = asyncio.get_running_loop()
    return await loop.create_server(accepted, host, port, ssl=ssl)

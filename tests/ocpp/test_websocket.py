"""The charger-facing WebSocket itself (ocpp/transport.py): framing, keepalive, limits and the handshake.

Most tests speak through the `websockets` client (an independent implementation); where a charger
does what no library client would (pipelining, ignoring pings, bytes that are not UTF-8) a raw TCP
socket speaks RFC 6455 by hand.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from typing import Any

import pytest
import websockets
from websockets.frames import CloseCode
from websockets.typing import Subprotocol

from tests.conftest import AppFactory
from voltbridge.app import App
from voltbridge.ocpp.transport import ServerSocket, SocketOptions, serve_sockets

HEARTBEAT = '[2,"h1","Heartbeat",{}]'


@pytest.fixture
async def app(make_app: AppFactory) -> App:
    return await make_app(http=False)


def url(app: App, station_id: str = "CP1") -> str:
    return f"ws://127.0.0.1:{app.ports.ocpp}/ocpp/{station_id}"


def masked_frame(payload: bytes, opcode: int = 0x1, fin: bool = True) -> bytes:
    """A client frame (clients must mask) with a random mask key."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def upgrade_request(path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    ).encode()


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One server frame (unmasked): opcode and payload."""
    first, second = await reader.readexactly(2)
    n = second & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await reader.readexactly(n)


async def raw_socket(app: App, station_id: str = "CP1", pipelined: bytes = b"") -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", app.ports.ocpp)
    writer.write(upgrade_request(f"/ocpp/{station_id}") + pipelined)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def exchange(ws: Any, frame: str) -> list[Any]:
    await ws.send(frame)
    return list(json.loads(await asyncio.wait_for(ws.recv(), 5)))


async def test_a_fragmented_message_is_reassembled_and_answered(app: App) -> None:
    await app.stations.register("CP1")
    async with websockets.connect(url(app), subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        await ws.send(iter(['[2,"f1",', '"Heartbeat"', ",{}]"]))
        answer = list(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        assert answer[:2] == [3, "f1"] and "currentTime" in answer[2]


async def test_a_ping_from_the_charger_gets_a_pong(app: App) -> None:
    await app.stations.register("CP1")
    async with websockets.connect(url(app), subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        assert (await exchange(ws, HEARTBEAT))[0] == 3


async def test_a_message_pipelined_behind_the_request_is_answered(app: App) -> None:
    await app.stations.register("CP1")
    reader, writer = await raw_socket(app, pipelined=masked_frame(HEARTBEAT.encode()))
    opcode, payload = await asyncio.wait_for(read_frame(reader), 5)
    assert opcode == 0x1 and json.loads(payload)[:2] == [3, "h1"]
    writer.close()


async def test_text_that_is_not_utf8_gets_a_callerror_and_the_socket_stays(app: App) -> None:
    await app.stations.register("CP1")
    reader, writer = await raw_socket(app)
    writer.write(masked_frame(b'[2,"u1","DataTransfer",{"vendorId":"\xff\xfe"}]'))
    _, payload = await asyncio.wait_for(read_frame(reader), 5)
    assert json.loads(payload)[:3] == [4, "u1", "FormationViolation"]
    writer.write(masked_frame(HEARTBEAT.encode()))
    _, payload = await asyncio.wait_for(read_frame(reader), 5)
    assert json.loads(payload)[:2] == [3, "h1"]
    writer.close()


async def test_calls_sent_without_waiting_are_all_answered_in_order(app: App) -> None:
    # A charger must wait for each answer; one that does not is read more slowly, never dropped.
    await app.stations.register("CP1")
    reader, writer = await raw_socket(app)
    writer.write(b"".join(masked_frame(f'[2,"b{i}","Heartbeat",{{}}]'.encode()) for i in range(60)))
    answered = [json.loads((await asyncio.wait_for(read_frame(reader), 5))[1])[1] for _ in range(60)]
    assert answered == [f"b{i}" for i in range(60)]
    writer.close()


async def test_frames_however_the_reads_cut_them_are_each_answered(app: App) -> None:
    """Whole frames are framed by us, the rest by websockets: a stream cut at every place (within a
    header, a mask, a 16-bit length, between frames, with a ping and a fragmented message among
    them) is answered the same."""
    await app.stations.register("CP1")
    reader, writer = await raw_socket(app)
    long_call = '[2,"d1","DataTransfer",{"vendorId":"' + "v" * 200 + '"}]'  # a 16-bit length
    stream = b"".join(
        [
            masked_frame(b'[2,"a1","Heartbeat",{}]'),
            masked_frame(long_call.encode()),
            masked_frame(b"still there?", opcode=0x9),  # ping
            masked_frame(b'[2,"f1","Heart', fin=False),
            masked_frame(b'beat",{}]', opcode=0x0),
            masked_frame(b'[2,"a2","Heartbeat",{}]'),
        ]
    )
    for size in (1, 3, 7, 29, len(stream)):
        for at in range(0, len(stream), size):
            writer.write(stream[at : at + size])
            await writer.drain()
            if size < len(stream):
                await asyncio.sleep(0.001)  # most pieces are read on their own
        frames = [await asyncio.wait_for(read_frame(reader), 5) for _ in range(5)]
        assert (0xA, b"still there?") in frames  # the pong (at once: answers wait for their handler)
        answered = [json.loads(payload)[:2] for opcode, payload in frames if opcode == 0x1]
        assert answered == [[3, "a1"], [3, "d1"], [3, "f1"], [3, "a2"]], size
    writer.close()


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(struct.pack("!BB", 0x81, 5) + b"hello", id="unmasked"),
        pytest.param(masked_frame(b"hello", opcode=0x1 | 0x40), id="reserved bit"),
        pytest.param(masked_frame(b"hello", opcode=0x3), id="unknown opcode"),
    ],
)
async def test_a_frame_against_rfc_6455_closes_with_1002(app: App, frame: bytes) -> None:
    await app.stations.register("CP1")
    reader, writer = await raw_socket(app)
    writer.write(masked_frame(HEARTBEAT.encode()) + frame)  # one good frame first, in the same read
    opcode = 0
    while opcode != 0x8:  # the answer to the heartbeat may come before the close frame, or not at all
        opcode, payload = await asyncio.wait_for(read_frame(reader), 5)
    assert struct.unpack("!H", payload[:2])[0] == CloseCode.PROTOCOL_ERROR
    writer.close()


async def test_a_message_over_the_limit_closes_with_1009(app: App) -> None:
    await app.stations.register("CP1")
    async with websockets.connect(url(app), subprotocols=[Subprotocol("ocpp1.6")], max_size=None) as ws:
        await ws.send('[2,"big","DataTransfer",{"vendorId":"x","data":"' + "x" * (2 << 20) + '"}]')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.MESSAGE_TOO_BIG


async def test_a_charger_that_answers_no_ping_is_dropped(make_app: AppFactory) -> None:
    app = await make_app(http=False, ping_interval=0.2)
    await app.stations.register("CP1")
    reader, writer = await raw_socket(app)
    opcode, _ = await asyncio.wait_for(read_frame(reader), 5)
    assert opcode == 0x9  # a ping, which this charger never answers
    async with asyncio.timeout(5):
        assert await reader.read() == b""  # dropped at the next interval
        while (await app.stations.get("CP1")).connected_node is not None:
            await asyncio.sleep(0.02)
    writer.close()


async def test_a_charger_that_ignores_pings_but_keeps_talking_stays(make_app: AppFactory) -> None:
    app = await make_app(http=False, ping_interval=0.3)
    await app.stations.register("CP1")
    reader, writer = await raw_socket(app)

    async def talk() -> None:  # a heartbeat every 50 ms, whatever the server does meanwhile
        for i in range(30):
            writer.write(masked_frame(f'[2,"k{i}","Heartbeat",{{}}]'.encode()))
            await asyncio.sleep(0.05)

    talking = asyncio.create_task(talk())
    pings = answers = 0
    async with asyncio.timeout(10):
        while answers < 30:
            opcode, _ = await read_frame(reader)
            pings += opcode == 0x9  # never answered
            answers += opcode == 0x1
    await talking
    assert pings >= 2
    assert (await app.stations.get("CP1")).connected_node is not None
    writer.close()


async def test_a_charger_that_answers_pings_stays(make_app: AppFactory) -> None:
    app = await make_app(http=False, ping_interval=0.1)
    await app.stations.register("CP1")
    async with websockets.connect(url(app), subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        await asyncio.sleep(0.5)  # several keepalive rounds, answered by the client library
        assert (await exchange(ws, HEARTBEAT))[0] == 3


async def test_a_close_from_the_charger_is_answered_and_recorded(app: App) -> None:
    await app.stations.register("CP1")
    async with websockets.connect(url(app), subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        assert (await exchange(ws, HEARTBEAT))[0] == 3
        await ws.close(CloseCode.GOING_AWAY, "rebooting")
        assert ws.close_code == CloseCode.GOING_AWAY  # the server echoed our close frame
    async with asyncio.timeout(5):
        while (await app.stations.get("CP1")).connected_node is not None:
            await asyncio.sleep(0.02)


async def test_a_plain_http_request_is_refused_without_an_upgrade(app: App) -> None:
    await app.stations.register("CP1")
    reader, writer = await asyncio.open_connection("127.0.0.1", app.ports.ocpp)
    writer.write(b"GET /ocpp/CP1 HTTP/1.1\r\nHost: test\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 5)
    assert response.startswith(b"HTTP/1.1 426"), response  # Upgrade Required
    writer.close()


async def test_a_request_that_never_completes_is_dropped() -> None:
    async def never_called(ws: ServerSocket) -> None:
        raise AssertionError("the request never completed")

    options = SocketOptions(subprotocols=["ocpp1.6"], open_timeout=0.2)
    server = await serve_sockets(never_called, "127.0.0.1", 0, options)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    writer.write(b"GET /ocpp/CP1 HTTP/1.1\r\nHost: te")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    server.close()

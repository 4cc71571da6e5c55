"""The charger-facing WebSocket server: handshake (path, subprotocol, security profiles), one
`Connection` per charger, registration on the bus, and clean replacement of a second socket.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import ssl
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.http11 import Request

from voltbridge.bus import Bus
from voltbridge.core.stations.service import Admission, StationService
from voltbridge.ocpp.connection import Connection, Router
from voltbridge.ocpp.hooks import ChargerTraffic
from voltbridge.ocpp.protocol import OcppVersion
from voltbridge.ocpp.transport import ServerSocket, SocketOptions, TransportClosed, serve_sockets
from voltbridge.ocpp.validation import Quirk, Validators

log = logging.getLogger(__name__)

PATH_PREFIX = "/ocpp/"


@dataclass(frozen=True)
class GatewayOptions:
    node_id: str = "local"
    ping_interval: float | None = 60.0
    # Large enough for a SendLocalList answer or a big transactionData; chargers never need more.
    max_message_bytes: int = 1 << 20
    versions: tuple[OcppVersion, ...] = (OcppVersion.V16,)


class Gateway:
    """Accepts chargers and keeps one `Connection` per station id."""

    def __init__(
        self,
        stations: StationService,
        bus: Bus,
        routers: dict[OcppVersion, Router],
        traffic: ChargerTraffic,
        options: GatewayOptions,
    ) -> None:
        self._stations = stations
        self._bus = bus
        self._routers = routers
        self._traffic = traffic
        self._options = options
        self._servers: list[asyncio.Server] = []
        self._sockets: set[ServerSocket] = set()
        self.connections: dict[str, Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None) -> int:
        """Start accepting on host:port (0 picks a free port); returns the bound port."""
        options = SocketOptions(
            subprotocols=[v.value for v in self._options.versions],
            max_message_bytes=self._options.max_message_bytes,
            ping_interval=self._options.ping_interval,
        )
        server = await serve_sockets(self._serve, host, port, options, ssl=ssl_context, live=self._sockets)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop accepting and drop every socket without a Close frame (chargers then reconnect)."""
        for server in self._servers:
            server.close()
        for conn in list(self.connections.values()):
            conn.drop("central system shutting down")
        for socket in list(self._sockets):  # those still in their handshake
            socket.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def _serve(self, ws: ServerSocket) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            assert ws.request is not None
            station_id = await self._admit(ws, ws.request)
            if station_id is not None:
                # Read before the handshake is answered: from the 101 on, the station is reachable
                # (no await between accepting and registering it for commands).
                lenient = await self._stations.lenient(station_id)
                await self._run_connection(ws, station_id, ws.accept(), lenient=lenient)
        except TransportClosed:
            pass  # gone during the handshake, or the request was no WebSocket upgrade (answered)
        except Exception:
            log.exception("accepting a socket from %s failed", ws.remote)
            with contextlib.suppress(TransportClosed):
                ws.refuse(HTTPStatus.INTERNAL_SERVER_ERROR, "the central system failed to accept this\n")
        finally:
            self._tasks.discard(task)

    async def _admit(self, ws: ServerSocket, request: Request) -> str | None:
        """The station the request may open a socket for; else the request is refused and None."""
        station_id = _station_id(request.path)
        if station_id is None:
            ws.refuse(HTTPStatus.NOT_FOUND, "connect to /ocpp/{station_id}\n")
            return None
        offered = request.headers.get_all("Sec-WebSocket-Protocol")
        wanted = {p.strip() for header in offered for p in header.split(",")}
        if wanted and not wanted & {v.value for v in self._options.versions}:
            supported = ", ".join(v.value for v in self._options.versions)
            ws.refuse(HTTPStatus.BAD_REQUEST, f"no supported OCPP subprotocol offered; use {supported}\n")
            return None
        if station_id in _client_certificate_names(ws):
            # Security profile 3: the TLS layer verified the chain; the certificate names the station.
            verdict = await self._stations.admit(station_id, None, certificate=True)
        else:
            verdict = await self._stations.admit(station_id, _basic_password(request.headers, station_id))
        if verdict is Admission.UNKNOWN:
            ws.refuse(HTTPStatus.NOT_FOUND, f"station {station_id!r} is not registered\n")
            return None
        if verdict is Admission.BAD_PASSWORD:
            ws.refuse(
                HTTPStatus.UNAUTHORIZED,
                "wrong or missing station password\n",
                {"WWW-Authenticate": 'Basic realm="voltbridge", charset="UTF-8"'},
            )
            return None
        return station_id

    async def _run_connection(
        self, ws: ServerSocket, station_id: str, subprotocol: str | None, *, lenient: bool
    ) -> None:
        version = OcppVersion(subprotocol) if subprotocol else self._options.versions[0]
        conn = Connection(
            station_id,
            version,
            ws,
            self._routers[version],
            validators=Validators.for_version(version),
            traffic=self._traffic,
            lenient=lenient,
            on_quirks=self._record_quirks,
        )
        previous = self.connections.get(station_id)
        self.connections[station_id] = conn
        if previous is not None:
            log.info("%s opened a second socket; dropping the first", station_id)
            previous.drop("replaced by a newer connection")
        node = f"{self._options.node_id}#{conn.serial}"
        await self._bus.register_station(station_id, conn.call)
        await self._stations.connected(station_id, ocpp_version=version.value, node=node)
        await self._traffic.connected(station_id, version.value, conn.call)
        if subprotocol is None:
            await self._stations.record_event(
                station_id, "quirk", {"kind": "no_subprotocol", "assumed": version}
            )
        log.info("%s connected (%s) from %s", station_id, version.value, conn.transport.remote)
        reason = "?"
        try:
            reason = await conn.serve()
        finally:
            await self._bus.unregister_station(station_id, conn.call)
            if self.connections.get(station_id) is conn:
                del self.connections[station_id]
                await self._traffic.disconnected(station_id)
            await asyncio.shield(self._stations.disconnected(station_id, node=node, reason=reason))
            log.info("%s disconnected: %s", station_id, reason)

    async def _record_quirks(self, station_id: str, quirks: list[Quirk]) -> None:
        for quirk in quirks:
            await self._stations.record_event(
                station_id,
                "quirk",
                {"action": quirk.action, "kind": quirk.kind, "path": quirk.path, "detail": quirk.detail},
            )


def _station_id(path: str) -> str | None:
    path = path.split("?", 1)[0].rstrip("/")
    if not path.startswith(PATH_PREFIX):
        return None
    station_id = unquote(path[len(PATH_PREFIX) :])
    if not station_id or "/" in station_id or len(station_id) > 64:
        return None
    return station_id


def _basic_password(headers: Headers, station_id: str) -> str | None:
    value = headers.get("Authorization")
    if value is None or not value.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(value[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if user == station_id else None


def _client_certificate_names(ws: ServerSocket) -> set[str]:
    ssl_object = ws.get_extra_info("ssl_object")
    if ssl_object is None:
        return set()
    cert = ssl_object.getpeercert()
    if not cert:
        return set()
    names = {value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"}
    names |= {value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"}
    return names

"""A small OCPP 1.6 central system for the simulator's tests.

It is built on the ``ocpp`` package's own ``ChargePoint`` with ``@on`` handlers, on a real
websockets server on port 0, so the simulator is checked against an independent implementation
rather than against our gateway. It records every CALL a charger sends and can send commands.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from ocpp.routing import on as ocpp_on
from ocpp.v16 import ChargePoint, call_result
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def on(action: str) -> Callable[[_Handler], _Handler]:
    """The ``ocpp`` package's ``@on``, typed."""
    return cast(Callable[[_Handler], _Handler], ocpp_on(action))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Message:
    """A CALL a charger sent, with its payload as the ocpp package hands it over (snake_case)."""

    station_id: str
    action: str
    payload: dict[str, Any]


class _Endpoint(ChargePoint):  # type: ignore[misc]  # the ocpp package has no type information
    """The central system's side of one charger's connection."""

    def __init__(self, station_id: str, ws: ServerConnection, central: CentralSystem) -> None:
        super().__init__(station_id, ws, response_timeout=10)
        self.central = central

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.central.record(Message(self.id, action, payload))

    @on("BootNotification")
    async def on_boot_notification(self, **payload: Any) -> Any:
        self._record("BootNotification", payload)
        status = self.central.boot_statuses.pop(0) if self.central.boot_statuses else "Accepted"
        interval = self.central.heartbeat_interval if status == "Accepted" else self.central.boot_retry
        return call_result.BootNotification(current_time=_now(), interval=interval, status=status)

    @on("Heartbeat")
    async def on_heartbeat(self, **payload: Any) -> Any:
        self._record("Heartbeat", payload)
        return call_result.Heartbeat(current_time=_now())

    @on("StatusNotification")
    async def on_status_notification(self, **payload: Any) -> Any:
        self._record("StatusNotification", payload)
        return call_result.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, **payload: Any) -> Any:
        self._record("Authorize", payload)
        return call_result.Authorize(id_tag_info={"status": self.central.tag_status(payload["id_tag"])})

    @on("StartTransaction")
    async def on_start_transaction(self, **payload: Any) -> Any:
        self._record("StartTransaction", payload)
        self.central.last_transaction_id += 1
        return call_result.StartTransaction(
            transaction_id=self.central.last_transaction_id,
            id_tag_info={"status": self.central.tag_status(payload["id_tag"])},
        )

    @on("MeterValues")
    async def on_meter_values(self, **payload: Any) -> Any:
        self._record("MeterValues", payload)
        return call_result.MeterValues()

    @on("StopTransaction")
    async def on_stop_transaction(self, **payload: Any) -> Any:
        self._record("StopTransaction", payload)
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on("DataTransfer")
    async def on_data_transfer(self, **payload: Any) -> Any:
        self._record("DataTransfer", payload)
        return call_result.DataTransfer(status="Accepted", data=payload.get("data"))

    @on("DiagnosticsStatusNotification")
    async def on_diagnostics_status_notification(self, **payload: Any) -> Any:
        self._record("DiagnosticsStatusNotification", payload)
        return call_result.DiagnosticsStatusNotification()

    @on("FirmwareStatusNotification")
    async def on_firmware_status_notification(self, **payload: Any) -> Any:
        self._record("FirmwareStatusNotification", payload)
        return call_result.FirmwareStatusNotification()


class CentralSystem:
    """A test central system: records what chargers send, answers simply, sends commands."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.endpoints: dict[str, _Endpoint] = {}
        self.connections = 0
        self.passwords: dict[str, str] = {}
        """Stations that must authenticate with HTTP Basic, and their passwords."""
        self.boot_statuses: list[str] = []
        """Answers to the next BootNotifications (then Accepted)."""
        self.heartbeat_interval = 300
        self.boot_retry = 1
        self.blocked_tags: set[str] = set()
        self.last_transaction_id = 0
        self._changed = asyncio.Event()
        self._server: Server | None = None
        self._scheme = "ws"

    @property
    def url(self) -> str:
        assert self._server is not None, "the central system is not serving"
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"{self._scheme}://127.0.0.1:{port}/ocpp"

    @contextlib.asynccontextmanager
    async def serving(self, tls: ssl.SSLContext | None = None) -> AsyncIterator[CentralSystem]:
        """Listen on a free port of 127.0.0.1 (with TLS when given a context) while the block runs."""
        self._scheme = "ws" if tls is None else "wss"
        async with serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=[Subprotocol("ocpp1.6")],
            process_request=self._check_password,
            ssl=tls,
        ) as server:
            self._server = server
            try:
                yield self
            finally:
                self._server = None

    def tag_status(self, id_tag: str) -> str:
        return "Blocked" if id_tag in self.blocked_tags else "Accepted"

    def record(self, message: Message) -> None:
        self.messages.append(message)
        self._notify()

    def of(self, station_id: str, action: str, since: int = 0) -> list[dict[str, Any]]:
        """Payloads of ``action`` from ``station_id``, from message number ``since`` on."""
        return [m.payload for m in self.messages[since:] if m.station_id == station_id and m.action == action]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Return once ``predicate()`` holds (checked on every message and connection change)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    async def message(
        self,
        station_id: str,
        action: str,
        where: Callable[[dict[str, Any]], bool] = lambda payload: True,
        *,
        since: int = 0,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """The first ``action`` from ``station_id`` (after ``since``) that satisfies ``where``; waits for it."""

        def found() -> dict[str, Any] | None:
            return next((p for p in self.of(station_id, action, since) if where(p)), None)

        await self.wait_for(lambda: found() is not None, timeout)
        payload = found()
        assert payload is not None
        return payload

    async def send(self, station_id: str, payload: object) -> Any:
        """Send a command to a connected charger and return its answer (raises on a CALLERROR)."""
        await self.wait_for(lambda: station_id in self.endpoints)
        return await self.endpoints[station_id].call(payload, suppress=False)

    async def _check_password(self, connection: ServerConnection, request: Request) -> Response | None:
        station_id = request.path.rsplit("/", 1)[-1]
        expected = self.passwords.get(station_id)
        if expected is None:
            return None
        token = base64.b64encode(f"{station_id}:{expected}".encode()).decode()
        if request.headers.get("Authorization") == f"Basic {token}":
            return None
        return connection.respond(401, "wrong password\n")

    async def _handle(self, ws: ServerConnection) -> None:
        station_id = ws.request.path.rsplit("/", 1)[-1] if ws.request is not None else "?"
        endpoint = _Endpoint(station_id, ws, self)
        self.endpoints[station_id] = endpoint
        self.connections += 1
        self._notify()
        try:
            await endpoint.start()
        except ConnectionClosed:
            pass
        finally:
            if self.endpoints.get(station_id) is endpoint:
                del self.endpoints[station_id]
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

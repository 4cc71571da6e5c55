"""A simulated OCPP 1.6J charger: connects, boots, heartbeats, charges, and answers every command.

One ``SimulatedCharger`` is one charge point. ``run()`` keeps it connected until cancelled: it opens
the WebSocket, boots, reports its connectors, and then runs, in one task group per connection, the
receive loop, the heartbeat, and per connector a session driver and a meter. Whatever the backend
asks for beyond its answer (a remote start, a triggered message, a reboot) runs in the same group.
A lost connection ends the group; the charger reconnects with backoff and boots again, and the
sessions go on: a StopTransaction that could not be sent goes out after the next boot.

Tests and the fleet read the public attributes and wait with ``wait_for``; nothing needs a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, Literal, TypeVar, cast, get_args
from urllib.parse import quote

from ocpp.v16 import call
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.headers import build_authorization_basic
from websockets.typing import Subprotocol

from voltbridge.sim.clock import Clock, SystemClock
from voltbridge.sim.commands import CommandLink, FollowUp
from voltbridge.sim.config import ChargerConfig
from voltbridge.sim.config_store import format_seconds
from voltbridge.sim.errors import BackendRefused, CallFailed, NotConnected, SimError
from voltbridge.sim.latency import LatencyHistogram
from voltbridge.sim.operations import Operations
from voltbridge.sim.sessions import Sessions
from voltbridge.sim.state import MessageCounters, Transaction
from voltbridge.sim.station import Station
from voltbridge.sim.types import JsonObject, ReadingContext, RegistrationStatus, StopReason
from voltbridge.sim.wire import Wire

SUBPROTOCOL = Subprotocol("ocpp1.6")
_CONNECTION_ERRORS = (OSError, TimeoutError, WebSocketException, SimError)


class _Reboot(Exception):
    """Raised inside a connection's task group to end it and boot again (Reset, firmware update)."""

    def __init__(self, *, hard: bool) -> None:
        super().__init__("hard reset" if hard else "soft reset")
        self.hard = hard


class SimulatedCharger:
    """An OCPP 1.6J charge point that connects to ``{url}/{station_id}``.

    ``password`` enables HTTP Basic authentication (user: the station id; security profiles 1 and 2),
    ``ssl`` is the TLS context for a ``wss://`` url, ``config`` says how the charger looks and
    behaves, and ``clock`` gives the wall-clock time of OCPP timestamps.
    """

    def __init__(
        self,
        station_id: str,
        url: str,
        *,
        password: str | None = None,
        ssl: ssl.SSLContext | None = None,
        config: ChargerConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.station_id = station_id
        self.url = url.rstrip("/")
        self.config = config if config is not None else ChargerConfig()
        if ssl is not None and not self.url.startswith("wss://"):
            raise ValueError(f"an ssl context needs a wss:// url, got {url!r}")
        self._password = password
        self._ssl = ssl
        self._clock = clock if clock is not None else SystemClock()
        self._wire = Wire(
            station_id,
            response_timeout=self.config.response_timeout,
            validate_schemas=self.config.validate_schemas,
        )
        self.station = Station(station_id, self.config, on_config_change=lambda key: self._wire.notify())
        """Everything the charger keeps: configuration, connectors, transactions, lists, profiles."""
        seed = self.config.seed if self.config.seed is not None else station_id
        self._sessions = Sessions(
            self.station, self.config, self._wire, now=self.now, rng=random.Random(seed)
        )
        self._operations = Operations(self)
        self.connect_count = 0
        """WebSocket connections opened so far."""
        self.boot_count = 0
        """Accepted boots so far (one per connection at most)."""
        self._tasks: asyncio.TaskGroup | None = None
        # Set by reset(); the connection's task group sees it and ends with _Reboot.
        self._reboot_request: bool | None = None

    def __repr__(self) -> str:
        state = "booted" if self.booted else "connected" if self.connected else "offline"
        return f"<SimulatedCharger {self.station_id} {state}>"

    # Observation

    @property
    def connected(self) -> bool:
        """True while the WebSocket is open."""
        return self._wire.connected

    @property
    def booted(self) -> bool:
        """True while connected with an accepted BootNotification."""
        return self._wire.booted

    @property
    def registration_status(self) -> RegistrationStatus | None:
        """The backend's answer to the last BootNotification of this connection."""
        return self._wire.registration_status

    @property
    def counters(self) -> MessageCounters:
        """Messages by action: CALLs sent, answered, failed; commands received and answered."""
        return self._wire.counters

    @property
    def latency(self) -> LatencyHistogram:
        """Answer latencies of every CALL this charger made."""
        return self._wire.latency

    @property
    def errors(self) -> int:
        """Errors so far: failed CALLs, refused or lost connections."""
        return self._wire.errors

    @property
    def last_error(self) -> str | None:
        """The message of the most recent error."""
        return self._wire.last_error

    @property
    def transactions(self) -> list[Transaction]:
        """Every transaction of this charger, oldest first (running ones included)."""
        return self.station.transactions

    @property
    def active_transactions(self) -> list[Transaction]:
        """The running transactions, oldest first."""
        return self.station.active_transactions()

    @property
    def pending_stops(self) -> list[Transaction]:
        """Ended sessions whose StopTransaction has not been answered yet."""
        return list(self._sessions.pending_stops)

    async def wait_for(self, predicate: Callable[[SimulatedCharger], bool], timeout: float = 10.0) -> None:
        """Return as soon as ``predicate(self)`` holds; raise TimeoutError after ``timeout`` seconds.

        The predicate is checked again whenever the charger's state changes: connection, boot,
        a CALL answered, a session begun or ended, a configuration change, an error.
        """
        if not await self._wire.wait_until(lambda: predicate(self), timeout):
            raise TimeoutError(f"{self.station_id}: condition not met within {timeout:g} s ({self!r})")

    def now(self) -> datetime:
        """The charger's wall-clock time (aware, UTC)."""
        return self._clock.now()

    # Running

    async def run(self) -> None:
        """Stay connected until cancelled: connect, boot, simulate; reconnect with backoff when lost."""
        config = self.config
        delay = config.reconnect_min_delay
        try:
            while True:
                outcome = await self._connection()
                if outcome == "reboot":
                    continue
                if outcome == "booted":
                    delay = config.reconnect_min_delay
                await asyncio.sleep(self._sessions.jittered(delay))
                delay = min(config.reconnect_max_delay, max(delay * 2, 0.1))
        finally:
            self._operations.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[SimulatedCharger]:
        """Run the charger in a task for the duration of an ``async with`` block."""
        task = asyncio.create_task(self.run(), name=f"charger {self.station_id}")
        try:
            yield self
        finally:
            task.cancel()
            await asyncio.wait([task])
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error

    async def stop(self, reason: StopReason = "Local", timeout: float = 10.0) -> None:
        """End running sessions properly and start no new ones; ``run`` keeps the connection.

        Returns once every session has ended and its StopTransaction was answered (a session
        still starting is ended when it has started), once the connection is gone, or after
        ``timeout`` seconds. Call this before cancelling ``run`` so the backend is not left with
        open transactions.
        """
        sessions = self._sessions
        sessions.stopping = True
        self._wire.notify()
        station = self.station

        def settled() -> bool:
            starting = any(
                c.status == "Preparing" and station.active_transaction(n) is None
                for n, c in station.connectors.items()
            )
            busy = starting or sessions.pending_stops or station.active_transactions()
            return not busy or not self.connected

        with contextlib.suppress(TimeoutError, SimError, ConnectionClosed):
            async with asyncio.timeout(timeout):
                while not settled():
                    for tx in self.active_transactions:
                        await sessions.end(tx, reason)
                    await self._wire.wait_until(
                        lambda: settled() or bool(station.active_transactions()), None
                    )

    # Acting (tests, demos, the fleet, and the command follow-ups)

    async def call(self, payload: object, *, latency: LatencyHistogram | None = None) -> Any:
        """Send a CALL (an ``ocpp.v16.call`` payload) and return the backend's answer payload.

        Raises NotConnected without a connection, CallFailed on a CALLERROR or no answer in time,
        and websockets' ConnectionClosed if the connection drops meanwhile. The answer latency goes
        into ``self.latency`` and into ``latency`` if given.
        """
        return await self._wire.call(payload, latency=latency)

    async def start_session(
        self,
        connector_id: int = 1,
        id_tag: str | None = None,
        *,
        remote: bool = False,
        profile: JsonObject | None = None,
    ) -> Transaction | None:
        """Plug an EV into a connector and start charging for ``id_tag``, as a driver would.

        Authorizes the tag (unless ``remote`` and AuthorizeRemoteTxRequests is false, or the local
        list accepts it and LocalPreAuthorize is on), sends StartTransaction and a Transaction.Begin
        sample; ``profile`` (a TxProfile, snake_case) is installed for the new transaction. Returns
        the transaction, or None when the connector cannot take a session or the tag was refused.
        A connector already claimed by an accepted RemoteStartTransaction is used as it is.
        """
        tag = id_tag if id_tag is not None else self.config.id_tags[0]
        station = self.station
        claimed = (
            station.has_connector(connector_id)
            and station.connector(connector_id).status == "Preparing"
            and station.active_transaction(connector_id) is None
        )
        if not claimed and not self._sessions.claim(connector_id, tag):
            return None
        return await self._sessions.begin(connector_id, tag, remote=remote, profile=profile)

    async def stop_session(self, connector_id: int = 1, reason: StopReason = "Local") -> Transaction | None:
        """End the session on a connector (StopTransaction with its transactionData); returns it."""
        tx = self.station.active_transaction(connector_id)
        if tx is not None:
            await self._sessions.end(tx, reason)
        return tx

    async def reset(self, *, hard: bool = False, reason: StopReason | None = None) -> None:
        """Reboot as on a Reset: close the connection, reconnect at once and boot again.

        A soft reset first ends the sessions (StopTransaction, reason SoftReset). A hard reset is a
        power cycle: the socket just drops, and the StopTransactions (HardReset) follow the boot.
        ``reason`` overrides the stop reason (a firmware update reboots with Reboot).
        """
        stop_reason: StopReason = reason or ("HardReset" if hard else "SoftReset")
        for tx in self.active_transactions:
            if hard:
                self._sessions.close(tx, stop_reason)
            else:
                await self._sessions.end(tx, stop_reason)
        if self._tasks is not None:  # offline there is no connection to drop; the next one boots anyway
            self._reboot_request = hard
            self._wire.notify()

    async def send_boot_notification(self) -> float:
        """Send BootNotification and take in the answer; returns the interval the backend gave."""
        config = self.config
        result = await self.call(
            call.BootNotification(
                charge_point_vendor=config.vendor,
                charge_point_model=config.model,
                charge_point_serial_number=self.station_id[:25],
                firmware_version=self.station.firmware_version,
                meter_type="voltbridge-sim",
            )
        )
        status = str(result.status)
        interval = float(result.interval)
        wire = self._wire
        wire.registration_status = (
            cast(RegistrationStatus, status) if status in get_args(RegistrationStatus) else "Rejected"
        )
        if status == "Accepted":
            if interval > 0:
                self.station.configuration.set("HeartbeatInterval", format_seconds(interval))
            if not wire.booted:
                wire.booted = True
                self.boot_count += 1
        wire.notify()
        return interval

    async def send_status(self, connector_id: int, *, triggered: bool = False) -> None:
        """Send a StatusNotification with a connector's current status (0: the charge point).

        Nothing is sent before the boot is accepted, unless ``triggered`` (by a TriggerMessage).
        """
        await self._sessions.send_status(connector_id, triggered=triggered)

    async def send_meter_values(
        self,
        connector_id: int,
        context: ReadingContext = "Trigger",
        *,
        latency: LatencyHistogram | None = None,
    ) -> None:
        """Send one MeterValues sample of a connector (with its transaction id while one runs)."""
        await self._sessions.send_meter_values(connector_id, context, latency=latency)

    def spawn(self, follow_up: FollowUp) -> None:
        """Run ``follow_up()`` in the current connection's task group; dropped when offline."""
        if self._tasks is None:
            return
        with contextlib.suppress(RuntimeError):  # the group is shutting down: the connection is gone
            self._tasks.create_task(self._follow_up(follow_up))

    # One connection

    async def _connection(self) -> Literal["reboot", "booted", "lost"]:
        reboot: _Reboot | None = None
        was_booted = False
        wire = self._wire
        try:
            async with self._connect() as ws:
                if ws.subprotocol != SUBPROTOCOL:
                    raise BackendRefused(self.station_id, f"it did not agree to subprotocol {SUBPROTOCOL}")
                wire.link = CommandLink(
                    self.station_id,
                    ws,
                    actions=self._operations,
                    counters=wire.counters,
                    response_timeout=self.config.response_timeout,
                )
                wire.connected = True
                self.connect_count += 1
                wire.notify()
                try:
                    async with asyncio.TaskGroup() as tasks:
                        self._tasks = tasks
                        tasks.create_task(self._receive(ws, wire.link, tasks))
                        tasks.create_task(self._operate(tasks))
                except* _Reboot as group:
                    reboot = _first(group, _Reboot)
                    if reboot.hard:
                        # A hard reset is a power cycle: the socket just goes away, without a Close frame.
                        ws.transport.abort()
                finally:
                    was_booted = wire.booted
                    self._tasks = None
                    self._reboot_request = None
                    wire.link = None
                    wire.connected = wire.booted = False
                    wire.registration_status = None
                    wire.notify()
        except* InvalidStatus as group:
            status = _first(group, InvalidStatus).response.status_code
            wire.record_error(str(BackendRefused(self.station_id, f"HTTP {status}")))
        except* _CONNECTION_ERRORS as group:
            wire.record_error(_describe(self.station_id, _first(group, Exception)))
        if reboot is not None:
            return "reboot"
        return "booted" if was_booted else "lost"

    def _connect(self) -> connect:
        headers: dict[str, str] = {}
        if self._password is not None:
            headers["Authorization"] = build_authorization_basic(self.station_id, self._password)
        ping = self.station.configuration.number("WebSocketPingInterval")
        extra: dict[str, Any] = {} if self._ssl is None else {"ssl": self._ssl}
        return connect(
            f"{self.url}/{quote(self.station_id, safe='')}",
            subprotocols=[SUBPROTOCOL],
            additional_headers=headers,
            # Chargers rarely negotiate permessage-deflate; without it the backend sees what it meets
            # in the field, and load runs do not spend their CPU on compression.
            compression=None,
            ping_interval=ping if ping > 0 else None,
            open_timeout=self.config.response_timeout,
            **extra,
        )

    async def _receive(self, ws: ClientConnection, link: CommandLink, tasks: asyncio.TaskGroup) -> None:
        while True:
            message = await ws.recv()
            await link.route_message(message)
            # The answer to a command is out now; what the command asked for may start.
            for follow_up in link.take_follow_ups():
                tasks.create_task(self._follow_up(follow_up))

    async def _operate(self, tasks: asyncio.TaskGroup) -> None:
        tasks.create_task(self._watch_reboot())
        await self._boot()
        sessions = self._sessions
        for tx in list(sessions.pending_stops):
            await sessions.send_stop(tx)
        for connector_id in (0, *self.station.connectors):
            await sessions.send_status(connector_id)
        tasks.create_task(self._heartbeat())
        for connector_id in self.station.connectors:
            tasks.create_task(sessions.drive(connector_id))
            tasks.create_task(sessions.meter(connector_id))

    async def _boot(self) -> None:
        while True:
            interval = await self.send_boot_notification()
            if self.registration_status == "Accepted":
                return
            # Pending or Rejected: ask again after the interval, unless a triggered boot got through.
            wait = interval if interval > 0 else self.config.boot_retry_interval
            if await self._wire.wait_until(lambda: self.registration_status == "Accepted", wait):
                return

    async def _heartbeat(self) -> None:
        store = self.station.configuration
        while True:
            interval = store.number("HeartbeatInterval")

            # Wake early when the interval changes, so a new one applies at once (0 turns it off).
            def changed(interval: float = interval) -> bool:
                return store.number("HeartbeatInterval") != interval

            if not await self._wire.wait_until(changed, interval if interval > 0 else None):
                with contextlib.suppress(CallFailed):
                    await self.call(call.Heartbeat())

    async def _watch_reboot(self) -> None:
        await self._wire.wait_until(lambda: self._reboot_request is not None, None)
        hard, self._reboot_request = bool(self._reboot_request), None
        raise _Reboot(hard=hard)

    async def _follow_up(self, follow_up: FollowUp) -> None:
        # Failed CALLs are already counted and recorded; the connection carries on without them.
        with contextlib.suppress(CallFailed, NotConnected):
            await follow_up()


_E = TypeVar("_E", bound=BaseException)


def _first(group: BaseExceptionGroup[_E], kind: type[_E]) -> _E:
    """The first leaf exception of ``group`` (groups nest when task groups do)."""
    for error in group.exceptions:
        if isinstance(error, kind):
            return error
        if isinstance(error, BaseExceptionGroup):
            return _first(cast(BaseExceptionGroup[_E], error), kind)
    raise AssertionError("except* never hands over an empty group")


def _describe(station_id: str, error: BaseException) -> str:
    if isinstance(error, SimError):
        return str(error)
    if isinstance(error, ConnectionClosed):
        return f"{station_id}: connection lost: {error}"
    text = str(error)
    return (
        f"{station_id}: {type(error).__name__}: {text}" if text else f"{station_id}: {type(error).__name__}"
    )

"""A small 1.6 charger for tests, built on the `ocpp` package's ChargePoint (a real, independent client)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    RemoteStartStopStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnlockStatus,
)
from websockets.typing import Subprotocol


class TestCharger(ChargePoint):  # type: ignore[misc]
    """Answers the common commands and remembers what it was asked."""

    __test__ = False

    def __init__(self, station_id: str, ws: Any) -> None:
        super().__init__(station_id, ws, response_timeout=10)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.config: dict[str, str] = {"HeartbeatInterval": "300"}
        self.answer_delay = 0.0
        self.in_flight = 0
        self.most_in_flight = 0

    def _got(self, action: str, **kwargs: Any) -> None:
        self.received.append((action, kwargs))

    @on(Action.reset)
    async def on_reset(self, **kw: Any) -> call_result.Reset:
        self._got("Reset", **kw)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.answer_delay)  # a slow charger: the next command must wait
        finally:
            self.in_flight -= 1
        return call_result.Reset(status=ResetStatus.accepted)

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        self._got("ChangeConfiguration", key=key, value=value)
        self.config[key] = value
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        self._got("GetConfiguration", key=key)
        keys = key or list(self.config)
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": False, "value": self.config[k]} for k in keys if k in self.config
            ],
            unknown_key=[k for k in keys if k not in self.config],
        )

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, **kw: Any) -> call_result.RemoteStartTransaction:
        self._got("RemoteStartTransaction", id_tag=id_tag, **kw)
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        self._got("RemoteStopTransaction", transaction_id=transaction_id)
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id: int) -> call_result.UnlockConnector:
        self._got("UnlockConnector", connector_id=connector_id)
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)

    @on(Action.change_availability)
    async def on_change_availability(self, **kw: Any) -> call_result.ChangeAvailability:
        self._got("ChangeAvailability", **kw)
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on(Action.clear_cache)
    async def on_clear_cache(self) -> call_result.ClearCache:
        self._got("ClearCache")
        return call_result.ClearCache(status=ClearCacheStatus.accepted)

    @on(Action.trigger_message)
    async def on_trigger(self, **kw: Any) -> call_result.TriggerMessage:
        self._got("TriggerMessage", **kw)
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    async def boot(self) -> call_result.BootNotification:
        return await self.call(
            call.BootNotification(charge_point_vendor="TestVendor", charge_point_model="TestModel")
        )


def basic_auth(station_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def connected(
    url: str,
    station_id: str,
    *,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    charger_class: type[TestCharger] = TestCharger,
) -> AsyncIterator[TestCharger]:
    """Open a socket as `station_id`, run the charger's receive loop, and close at the end."""
    headers = basic_auth(station_id, password) if password else None
    async with websockets.connect(
        f"{url}/{station_id}",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers=headers,
        ssl=ssl_context,
    ) as ws:
        charger = charger_class(station_id, ws)
        task = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await task

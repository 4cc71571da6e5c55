"""A 1.6 charger (the `ocpp` package) that answers every command a central system may send.

It extends the shared `tests.chargers.TestCharger` with the commands that one leaves out, and a
charger that never answers (for timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, overload

from ocpp.routing import on as _on
from ocpp.v16 import call, call_result

from tests.chargers import TestCharger, connected

H = TypeVar("H", bound=Callable[..., Any])


def on(action: str) -> Callable[[H], H]:
    """The `ocpp` package's `@on`, typed."""
    decorator: Callable[[H], H] = _on(action)
    return decorator


class FullCharger(TestCharger):
    """Answers all 19 OCPP 1.6 commands a central system sends."""

    @on("DataTransfer")
    async def on_data_transfer(self, vendor_id: str, **kw: Any) -> call_result.DataTransfer:
        self._got("DataTransfer", vendor_id=vendor_id, **kw)
        return call_result.DataTransfer(status="Accepted", data="pong")

    @on("GetDiagnostics")
    async def on_get_diagnostics(self, location: str, **kw: Any) -> call_result.GetDiagnostics:
        self._got("GetDiagnostics", location=location, **kw)
        return call_result.GetDiagnostics(file_name="diagnostics.zip")

    @on("UpdateFirmware")
    async def on_update_firmware(
        self, location: str, retrieve_date: str, **kw: Any
    ) -> call_result.UpdateFirmware:
        self._got("UpdateFirmware", location=location, retrieve_date=retrieve_date, **kw)
        return call_result.UpdateFirmware()

    @on("SendLocalList")
    async def on_send_local_list(
        self, list_version: int, update_type: str, **kw: Any
    ) -> call_result.SendLocalList:
        self._got("SendLocalList", list_version=list_version, update_type=update_type, **kw)
        return call_result.SendLocalList(status="Accepted")

    @on("GetLocalListVersion")
    async def on_get_local_list_version(self) -> call_result.GetLocalListVersion:
        self._got("GetLocalListVersion")
        return call_result.GetLocalListVersion(list_version=3)

    @on("ReserveNow")
    async def on_reserve_now(self, **kw: Any) -> call_result.ReserveNow:
        self._got("ReserveNow", **kw)
        return call_result.ReserveNow(status="Accepted")

    @on("CancelReservation")
    async def on_cancel_reservation(self, reservation_id: int) -> call_result.CancelReservation:
        self._got("CancelReservation", reservation_id=reservation_id)
        return call_result.CancelReservation(status="Accepted")

    @on("SetChargingProfile")
    async def on_set_charging_profile(self, **kw: Any) -> call_result.SetChargingProfile:
        self._got("SetChargingProfile", **kw)
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    async def on_clear_charging_profile(self, **kw: Any) -> call_result.ClearChargingProfile:
        self._got("ClearChargingProfile", **kw)
        return call_result.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    async def on_get_composite_schedule(
        self, connector_id: int, duration: int, **kw: Any
    ) -> call_result.GetCompositeSchedule:
        self._got("GetCompositeSchedule", connector_id=connector_id, duration=duration, **kw)
        return call_result.GetCompositeSchedule(status="Rejected")

    async def heartbeat(self) -> call_result.Heartbeat:
        return await self.call(call.Heartbeat())


class SilentCharger(FullCharger):
    """Takes a Reset and never answers it, until `release` is set (at the end of the test)."""

    def __init__(self, station_id: str, ws: Any) -> None:
        super().__init__(station_id, ws)
        self.release = asyncio.Event()
        self.asked = asyncio.Event()

    @on("Reset")
    async def on_reset(self, **kw: Any) -> call_result.Reset:
        self._got("Reset", **kw)
        self.asked.set()
        await self.release.wait()
        return call_result.Reset(status="Accepted")


C = TypeVar("C", bound=FullCharger)


@overload
def booted(
    url: str, station_id: str, *, password: str | None = None
) -> contextlib.AbstractAsyncContextManager[FullCharger]: ...


@overload
def booted(
    url: str, station_id: str, charger_class: type[C], *, password: str | None = None
) -> contextlib.AbstractAsyncContextManager[C]: ...


def booted(
    url: str, station_id: str, charger_class: type[FullCharger] = FullCharger, *, password: str | None = None
) -> contextlib.AbstractAsyncContextManager[FullCharger]:
    """A charger connected as `station_id` whose BootNotification was answered.

    The gateway handles a charger's CALLs only once the socket is registered on the bus, so after the
    boot answer commands can reach it.
    """
    return _booted(url, station_id, charger_class, password)


@contextlib.asynccontextmanager
async def _booted(
    url: str, station_id: str, charger_class: type[FullCharger], password: str | None
) -> AsyncIterator[FullCharger]:
    async with connected(url, station_id, charger_class=charger_class, password=password) as charger:
        assert isinstance(charger, FullCharger)
        try:
            await charger.boot()
            yield charger
        finally:
            if isinstance(charger, SilentCharger):
                charger.release.set()

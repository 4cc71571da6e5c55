"""What a simulated charger does after answering a command: triggered messages, firmware and
diagnostics status sequences, reservation expiry, and the session work the handlers ask for.

``Operations`` is the charger as the command handlers see it (``commands.ChargerActions``). It uses
only the charger's public methods, so everything it does a test can also do by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ocpp.v16 import call

from voltbridge.sim.errors import CallFailed
from voltbridge.sim.state import Reservation, Transaction
from voltbridge.sim.station import Station
from voltbridge.sim.types import DiagnosticsStatus, FirmwareStatus, JsonObject, StopReason, TriggerableMessage

if TYPE_CHECKING:
    from voltbridge.sim.charger import SimulatedCharger

# Where a firmware image or a diagnostics file may be fetched from or put to; anything else fails,
# which lets a backend exercise the failure statuses.
TRANSFER_SCHEMES = frozenset({"ftp", "ftps", "sftp", "http", "https"})


class Operations:
    """The follow-up work of one charger's commands."""

    def __init__(self, charger: SimulatedCharger) -> None:
        self._charger = charger
        self._timers: dict[int, asyncio.TimerHandle] = {}

    @property
    def station(self) -> Station:
        return self._charger.station

    def now(self) -> datetime:
        return self._charger.now()

    async def begin_session(
        self, connector_id: int, id_tag: str, *, remote: bool, profile: JsonObject | None = None
    ) -> Transaction | None:
        return await self._charger.start_session(connector_id, id_tag, remote=remote, profile=profile)

    async def end_session(self, transaction: Transaction, reason: StopReason) -> None:
        if transaction.active:
            await self._charger.stop_session(transaction.connector_id, reason)

    async def send_status(self, connector_id: int) -> None:
        await self._charger.send_status(connector_id)

    async def reboot(self, *, hard: bool) -> None:
        await self._charger.reset(hard=hard)

    async def send_triggered(self, message: TriggerableMessage, connector_id: int | None) -> None:
        """Send what a TriggerMessage asked for (connector None or 0 for MeterValues: every connector)."""
        charger = self._charger
        station = self.station
        if message == "BootNotification":
            await charger.send_boot_notification()
        elif message == "Heartbeat":
            await charger.call(call.Heartbeat())
        elif message == "StatusNotification":
            targets = [connector_id] if connector_id is not None else [0, *station.connectors]
            for target in targets:
                await charger.send_status(target, triggered=True)
        elif message == "MeterValues":
            for target in [connector_id] if connector_id else list(station.connectors):
                await charger.send_meter_values(target, "Trigger")
        elif message == "DiagnosticsStatusNotification":
            await charger.call(call.DiagnosticsStatusNotification(status=station.diagnostics_status))
        elif message == "FirmwareStatusNotification":
            await charger.call(call.FirmwareStatusNotification(status=station.firmware_status))

    async def update_firmware(self, location: str, retrieve_at: datetime) -> None:
        """Download (from ``retrieve_at`` on), install, report each step, then reboot on the new version."""
        delay = (retrieve_at - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        step = self._charger.config.firmware_step_delay
        await self._firmware_status("Downloading")
        await asyncio.sleep(step)
        if urlsplit(location).scheme.lower() not in TRANSFER_SCHEMES:
            await self._firmware_status("DownloadFailed")
            self.station.firmware_status = "Idle"
            return
        await self._firmware_status("Downloaded")
        await asyncio.sleep(step)
        await self._firmware_status("Installing")
        await asyncio.sleep(step)
        self.station.firmware_version = firmware_version_of(location, self.station.firmware_version)
        await self._firmware_status("Installed")
        # Spec 4.4: "Idle" is what a triggered FirmwareStatusNotification reports once it is over.
        self.station.firmware_status = "Idle"
        await self._charger.reset(hard=False, reason="Reboot")

    async def upload_diagnostics(self, location: str) -> None:
        """Pretend to upload a diagnostics file to ``location`` and report Uploading, then the result."""
        await self._diagnostics_status("Uploading")
        await asyncio.sleep(self._charger.config.diagnostics_step_delay)
        ok = urlsplit(location).scheme.lower() in TRANSFER_SCHEMES
        await self._diagnostics_status("Uploaded" if ok else "UploadFailed")
        self.station.diagnostics_status = "Idle"

    def reservation_made(self, reservation: Reservation) -> None:
        """Expire the reservation at its expiryDate, unless it is used or cancelled first."""
        delay = max(0.0, (reservation.expiry - self.now()).total_seconds())
        previous = self._timers.pop(reservation.reservation_id, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._timers[reservation.reservation_id] = loop.call_later(delay, self._expire, reservation)

    def close(self) -> None:
        """Cancel pending reservation timers (the charger stopped)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _expire(self, reservation: Reservation) -> None:
        self._timers.pop(reservation.reservation_id, None)
        if self.station.reservations.get(reservation.reservation_id) is not reservation:
            return  # used or cancelled meanwhile
        self.station.cancel_reservation(reservation.reservation_id)
        if reservation.connector_id:
            connector_id = reservation.connector_id
            self._charger.spawn(lambda: self._charger.send_status(connector_id))

    async def _firmware_status(self, status: FirmwareStatus) -> None:
        self.station.firmware_status = status
        with contextlib.suppress(CallFailed):
            await self._charger.call(call.FirmwareStatusNotification(status=status))

    async def _diagnostics_status(self, status: DiagnosticsStatus) -> None:
        self.station.diagnostics_status = status
        with contextlib.suppress(CallFailed):
            await self._charger.call(call.DiagnosticsStatusNotification(status=status))


def firmware_version_of(location: str, current: str) -> str:
    """The version a firmware image brings: its file name without extensions (``fw-2.1.0.bin``: 2.1.0)."""
    name = PurePosixPath(urlsplit(location).path).name
    for suffix in (".tar.gz", ".tgz", ".bin", ".img", ".zip", ".hex"):
        name = name.removesuffix(suffix)
    name = name.removeprefix("firmware-").removeprefix("fw-")
    return (name or f"{current}+1")[:50]

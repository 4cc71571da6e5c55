"""Connectors at work: charging sessions, their meter values and the status reports that go with them.

A session begins on a connector claimed with status Preparing: Authorize (unless the answer is
known or not needed), StartTransaction, a Transaction.Begin sample, then Sample.Periodic MeterValues
every MeterValueSampleInterval. It ends with StopTransaction carrying the StopTxnSampledData at
begin and end. The charger's own state changes first; the messages follow, so a connection lost
halfway leaves the state right and the StopTransaction waiting for the next boot.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import datetime

from ocpp.v16 import call

from voltbridge.sim.clock import timestamp
from voltbridge.sim.config import ChargerConfig
from voltbridge.sim.errors import CallFailed
from voltbridge.sim.latency import LatencyHistogram
from voltbridge.sim.local_auth import TagInfo
from voltbridge.sim.smart_charging import ChargingProfile
from voltbridge.sim.state import Transaction
from voltbridge.sim.station import Station
from voltbridge.sim.types import ConnectorStatus, JsonObject, ReadingContext, StopReason
from voltbridge.sim.wire import Wire


class Sessions:
    """Sessions, meter values and status reports of one charger's connectors."""

    def __init__(
        self,
        station: Station,
        config: ChargerConfig,
        wire: Wire,
        *,
        now: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self.station = station
        self.config = config
        self.wire = wire
        self.now = now
        self.rng = rng
        self.stopping = False
        """Set when the charger shuts down: no new automatic sessions."""
        self.pending_stops: list[Transaction] = []
        """Ended sessions whose StopTransaction the backend has not answered yet."""

    # Messages about connectors

    async def send_status(
        self, connector_id: int, status: ConnectorStatus | None = None, *, triggered: bool = False
    ) -> None:
        """StatusNotification for a connector: its current status, or ``status`` when a step passes by."""
        # Until the boot is accepted only triggered messages may go out (spec 4.2.1).
        if not self.wire.may_send(triggered=triggered):
            return
        connector = self.station.connector(connector_id)
        with contextlib.suppress(CallFailed):
            await self.wire.call(
                call.StatusNotification(
                    connector_id=connector_id,
                    error_code=connector.error_code,
                    status=status or connector.status,
                    timestamp=timestamp(self.now()),
                )
            )

    async def send_meter_values(
        self, connector_id: int, context: ReadingContext, *, latency: LatencyHistogram | None = None
    ) -> None:
        """One MeterValues sample of a connector, with its transaction id while one runs."""
        tx = self.station.active_transaction(connector_id)
        self._advance(connector_id)
        sample = self.station.meter(connector_id).sample(
            self.station.sampled_measurands(), context=context, timestamp=timestamp(self.now())
        )
        await self.wire.call(
            call.MeterValues(
                connector_id=connector_id,
                meter_value=[sample],
                transaction_id=None if tx is None else tx.transaction_id,
            ),
            latency=latency,
        )
        if tx is not None:
            tx.meter_values_sent += 1

    # Starting and ending

    def claim(self, connector_id: int, id_tag: str) -> bool:
        """Take a connector for a new session (status Preparing) if ``id_tag`` may start there."""
        if not self.station.can_start(connector_id, id_tag):
            return False
        self.station.connector(connector_id).status = "Preparing"
        return True

    async def begin(
        self, connector_id: int, id_tag: str, *, remote: bool, profile: JsonObject | None = None
    ) -> Transaction | None:
        """Start a session on a claimed connector; None if the tag was refused or a CALL failed."""
        station = self.station
        tx: Transaction | None = None
        try:
            await self.send_status(connector_id, "Preparing")
            skip_authorize = remote and not station.configuration.flag("AuthorizeRemoteTxRequests")
            info = TagInfo("Accepted") if skip_authorize else await self._authorize(id_tag)
            if info.status == "Accepted":
                tx = await self._start_transaction(connector_id, id_tag, remote=remote)
        except CallFailed:
            pass
        except BaseException:
            self._release(connector_id)
            raise
        if tx is None:
            self._release(connector_id)
            await self.send_status(connector_id)
            return None
        if profile is not None:
            self._install_tx_profile(profile, tx)
        tx.begin_sample = station.meter(connector_id).sample(
            station.stop_measurands(), context="Transaction.Begin", timestamp=timestamp(tx.started_at)
        )
        await self.send_status(connector_id)
        with contextlib.suppress(CallFailed):
            await self.send_meter_values(connector_id, "Transaction.Begin")
        if tx.id_tag_status != "Accepted" and station.configuration.flag("StopTransactionOnInvalidId"):
            await self.end(tx, "DeAuthorized")
        return tx

    async def end(self, tx: Transaction, reason: StopReason) -> None:
        """End a running session: Finishing, StopTransaction, then the connector's idle status."""
        if not tx.active:
            return
        self.close(tx, reason)
        await self.send_status(tx.connector_id, "Finishing")
        await self.send_stop(tx)
        await self.send_status(tx.connector_id)

    def close(self, tx: Transaction, reason: StopReason) -> None:
        """End a session in the charger's own state; its StopTransaction is then due."""
        station = self.station
        connector_id = tx.connector_id
        self._advance(connector_id)
        meter = station.meter(connector_id)
        tx.stopped_at = self.now()
        tx.meter_stop_wh = meter.register
        tx.stop_reason = reason
        tx.end_sample = meter.sample(
            station.stop_measurands(), context="Transaction.End", timestamp=timestamp(tx.stopped_at)
        )
        meter.stop_charging(asyncio.get_running_loop().time())
        station.profiles.end_transaction(connector_id)
        station.apply_scheduled_availability(connector_id)
        station.connector(connector_id).status = station.idle_status(connector_id)
        self.pending_stops.append(tx)
        self.wire.notify()

    async def send_stop(self, tx: Transaction) -> None:
        """StopTransaction for an ended session, unless the backend already has it."""
        if tx not in self.pending_stops or tx.stopped_at is None or tx.meter_stop_wh is None:
            return
        data = [sample for sample in (tx.begin_sample, tx.end_sample) if sample is not None]
        try:
            await self.wire.call(
                call.StopTransaction(
                    meter_stop=tx.meter_stop_wh,
                    timestamp=timestamp(tx.stopped_at),
                    transaction_id=tx.transaction_id,
                    reason=tx.stop_reason,
                    id_tag=tx.id_tag,
                    transaction_data=data or None,
                )
            )
        except CallFailed:
            # The backend refused it or never answered; the same message again would fare no better.
            self.pending_stops.remove(tx)
            return
        self.pending_stops.remove(tx)
        tx.stop_sent = True
        self.wire.notify()

    # Loops that run while connected

    async def drive(self, connector_id: int) -> None:
        """Behave like the drivers of one connector: plug in after an idle gap, leave after a while."""
        station = self.station

        def session_running() -> bool:
            return station.active_transaction(connector_id) is not None

        while True:
            tx = station.active_transaction(connector_id)
            if tx is not None:
                await self._until_session_ends(tx)
                continue
            if not self.config.auto_sessions or self.stopping:
                await self.wire.wait_until(session_running, None)
                continue
            if await self.wire.wait_until(session_running, self.jittered(self.config.idle_duration)):
                continue
            tag = self.rng.choice(self.config.id_tags)
            if not self.stopping and self.claim(connector_id, tag):
                await self.begin(connector_id, tag, remote=False)

    async def meter(self, connector_id: int) -> None:
        """Send Sample.Periodic MeterValues every MeterValueSampleInterval while a session runs."""
        station = self.station
        store = station.configuration
        while True:
            tx = station.active_transaction(connector_id)
            if tx is None:
                await self.wire.wait_until(lambda: station.active_transaction(connector_id) is not None, None)
                continue
            interval = store.number("MeterValueSampleInterval")

            # Wake early when the session ends or the interval changes (0 turns sampling off).
            def ended_or_changed(tx: Transaction = tx, interval: float = interval) -> bool:
                return not tx.active or store.number("MeterValueSampleInterval") != interval

            if not await self.wire.wait_until(ended_or_changed, interval if interval > 0 else None):
                with contextlib.suppress(CallFailed):
                    await self.send_meter_values(connector_id, "Sample.Periodic")

    async def _until_session_ends(self, tx: Transaction) -> None:
        def ended() -> bool:
            return not tx.active

        if tx.ends_at is None:
            await self.wire.wait_until(ended, None)
            return
        remaining = max(0.0, tx.ends_at - asyncio.get_running_loop().time())
        if not await self.wire.wait_until(ended, remaining):
            await self.end(tx, "EVDisconnected")

    # Helpers

    def jittered(self, seconds: float) -> float:
        """``seconds`` spread by the configured jitter."""
        jitter = self.config.jitter
        return seconds * (1.0 + self.rng.uniform(-jitter, jitter)) if jitter else seconds

    def _release(self, connector_id: int) -> None:
        self.station.connector(connector_id).status = self.station.idle_status(connector_id)
        self.wire.notify()

    async def _authorize(self, id_tag: str) -> TagInfo:
        station = self.station
        store = station.configuration
        if store.flag("LocalPreAuthorize"):
            local = station.local_authorization(id_tag, self.now())
            if local is not None and local.status == "Accepted":
                return local
        result = await self.wire.call(call.Authorize(id_tag=id_tag))
        info = TagInfo.from_payload(result.id_tag_info)
        if store.flag("AuthorizationCacheEnabled"):
            station.auth_cache.remember(id_tag, info)
        return info

    async def _start_transaction(self, connector_id: int, id_tag: str, *, remote: bool) -> Transaction:
        station = self.station
        loop = asyncio.get_running_loop()
        started = loop.time()
        started_at = self.now()
        meter = station.meter(connector_id)
        soc = max(0.0, min(100.0, self.jittered(self.config.initial_soc_percent)))
        meter.start_charging(
            started, soc_percent=soc, limit_w=station.profiles.limit_w(connector_id, started_at, started_at)
        )
        meter_start = meter.register
        reservation = station.reservation_for(connector_id, id_tag)
        try:
            result = await self.wire.call(
                call.StartTransaction(
                    connector_id=connector_id,
                    id_tag=id_tag,
                    meter_start=meter_start,
                    timestamp=timestamp(started_at),
                    reservation_id=None if reservation is None else reservation.reservation_id,
                )
            )
        except BaseException:
            meter.stop_charging(loop.time())
            raise
        if reservation is not None:
            station.reservations.pop(reservation.reservation_id, None)
        info = TagInfo.from_payload(result.id_tag_info)
        if station.configuration.flag("AuthorizationCacheEnabled"):
            station.auth_cache.remember(id_tag, info)
        duration = self.config.session_duration
        tx = Transaction(
            connector_id=connector_id,
            id_tag=id_tag,
            transaction_id=int(result.transaction_id),
            meter_start_wh=meter_start,
            started_at=started_at,
            id_tag_status=info.status,
            remote=remote,
            reservation_id=None if reservation is None else reservation.reservation_id,
            ends_at=None if duration is None else started + self.jittered(duration),
        )
        station.transactions.append(tx)
        station.connector(connector_id).status = "Charging"
        self.wire.notify()
        return tx

    def _install_tx_profile(self, profile: JsonObject, tx: Transaction) -> None:
        station = self.station
        try:
            parsed = ChargingProfile.from_payload(
                tx.connector_id, {**profile, "transaction_id": tx.transaction_id}, installed_at=tx.started_at
            )
        except ValueError as exc:
            self.wire.record_error(
                f"{station.station_id}: ignored the charging profile of a remote start: {exc}"
            )
            return
        status = station.profiles.install(
            parsed, station.profile_limits(), active_transaction=tx.transaction_id
        )
        if status != "Accepted":
            self.wire.record_error(
                f"{station.station_id}: the charging profile of a remote start was {status}"
            )

    def _advance(self, connector_id: int) -> None:
        self.station.meter(connector_id).advance(
            asyncio.get_running_loop().time(), self.station.limit_w(connector_id, self.now())
        )

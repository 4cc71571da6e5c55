"""Answers to every command an OCPP 1.6 backend can send: Core, FirmwareManagement,
LocalAuthListManagement, Reservation, SmartCharging and RemoteTrigger.

The ``ocpp`` package runs a handler inside its receive loop, so a handler must not wait for a
CALL of its own: its answer would never be read. Handlers therefore decide and answer at once, and
leave what follows (StartTransaction after RemoteStartTransaction, the triggered message, the
firmware status sequence) as follow-ups. The charger starts those only after the answer has been
sent, in the connection's own task group, so the backend always sees the answer first.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast, get_args

from ocpp.routing import on as _ocpp_on
from ocpp.v16 import ChargePoint as _OcppChargePoint
from ocpp.v16 import call_result

from voltbridge.sim.clock import timestamp
from voltbridge.sim.smart_charging import ChargingProfile
from voltbridge.sim.state import MessageCounters, Reservation, Transaction
from voltbridge.sim.station import Station
from voltbridge.sim.types import ChargingRateUnit, JsonObject, StopReason, TriggerableMessage

FollowUp = Callable[[], Awaitable[object]]
_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[object]])


class ChargerActions(Protocol):
    """What the command handlers need from the charger that owns the connection."""

    @property
    def station(self) -> Station: ...

    def now(self) -> datetime: ...

    async def begin_session(
        self, connector_id: int, id_tag: str, *, remote: bool, profile: JsonObject | None = None
    ) -> Transaction | None: ...

    async def end_session(self, transaction: Transaction, reason: StopReason) -> None: ...

    async def send_status(self, connector_id: int) -> None: ...

    async def send_triggered(self, message: TriggerableMessage, connector_id: int | None) -> None: ...

    async def reboot(self, *, hard: bool) -> None: ...

    async def update_firmware(self, location: str, retrieve_at: datetime) -> None: ...

    async def upload_diagnostics(self, location: str) -> None: ...

    def reservation_made(self, reservation: Reservation) -> None: ...


def command(action: str) -> Callable[[_Handler], _Handler]:
    """Mark a method as the handler of ``action`` (the ``ocpp`` package's ``@on``) and count it."""

    def decorate(handler: _Handler) -> _Handler:
        @functools.wraps(handler)
        async def counted(self: CommandLink, **payload: object) -> object:
            self.counters.received[action] += 1
            answer = await handler(self, **payload)
            self.counters.replied[action] += 1
            return answer

        return cast(_Handler, _ocpp_on(action)(counted))

    return decorate


# The ocpp package ships no type information, so its ChargePoint is Any to mypy.
class CommandLink(_OcppChargePoint):  # type: ignore[misc]
    """One connection's OCPP 1.6 endpoint on the charger side: CALLs out, commands in."""

    def __init__(
        self,
        station_id: str,
        connection: object,
        *,
        actions: ChargerActions,
        counters: MessageCounters,
        response_timeout: float,
    ) -> None:
        super().__init__(station_id, connection, response_timeout=response_timeout)
        self.actions = actions
        self.counters = counters
        self._follow_ups: list[FollowUp] = []

    def take_follow_ups(self) -> list[FollowUp]:
        """The work the last command asked for, to be started now that its answer is out."""
        follow_ups, self._follow_ups = self._follow_ups, []
        return follow_ups

    def _then(self, follow_up: FollowUp) -> None:
        self._follow_ups.append(follow_up)

    @property
    def _station(self) -> Station:
        return self.actions.station

    # Core

    @command("ChangeAvailability")
    async def on_change_availability(self, connector_id: int, type: str, **_: object) -> Any:
        status, changed = self._station.change_availability(connector_id, type == "Operative")
        for n in changed:
            self._then(functools.partial(self.actions.send_status, n))
        return call_result.ChangeAvailability(status=status)

    @command("ChangeConfiguration")
    async def on_change_configuration(self, key: str, value: str, **_: object) -> Any:
        return call_result.ChangeConfiguration(status=self._station.configuration.change(key, value))

    @command("ClearCache")
    async def on_clear_cache(self, **_: object) -> Any:
        if not self._station.configuration.flag("AuthorizationCacheEnabled"):
            return call_result.ClearCache(status="Rejected")
        self._station.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @command("DataTransfer")
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None, **_: object
    ) -> Any:
        self._station.data_transfers.append((vendor_id, message_id, data))
        if vendor_id != self._station.config.data_transfer_vendor:
            return call_result.DataTransfer(status="UnknownVendorId")
        # The one vendor message we know echoes its data, which lets a backend test the round trip.
        if message_id not in (None, "Echo"):
            return call_result.DataTransfer(status="UnknownMessageId")
        return call_result.DataTransfer(status="Accepted", data=data)

    @command("GetConfiguration")
    async def on_get_configuration(self, key: list[str] | None = None, **_: object) -> Any:
        known, unknown = self._station.configuration.entries(key)
        return call_result.GetConfiguration(
            configuration_key=[{"key": e.key, "readonly": e.readonly, "value": e.value} for e in known],
            unknown_key=unknown or None,
        )

    @command("RemoteStartTransaction")
    async def on_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: JsonObject | None = None,
        **_: object,
    ) -> Any:
        station = self._station
        chosen = station.pick_connector(id_tag) if connector_id is None else connector_id
        if chosen is None or not station.can_start(chosen, id_tag):
            return call_result.RemoteStartTransaction(status="Rejected")
        # Spec 5.11: a profile sent with a remote start must be a TxProfile.
        if charging_profile is not None and charging_profile.get("charging_profile_purpose") != "TxProfile":
            return call_result.RemoteStartTransaction(status="Rejected")
        # Claim the connector now, so a local start cannot take it before the follow-up runs.
        station.connector(chosen).status = "Preparing"
        self._then(
            functools.partial(
                self.actions.begin_session, chosen, id_tag, remote=True, profile=charging_profile
            )
        )
        return call_result.RemoteStartTransaction(status="Accepted")

    @command("RemoteStopTransaction")
    async def on_remote_stop_transaction(self, transaction_id: int, **_: object) -> Any:
        tx = self._station.find_transaction(transaction_id)
        if tx is None:
            return call_result.RemoteStopTransaction(status="Rejected")
        self._then(functools.partial(self.actions.end_session, tx, "Remote"))
        return call_result.RemoteStopTransaction(status="Accepted")

    @command("Reset")
    async def on_reset(self, type: str, **_: object) -> Any:
        self._then(functools.partial(self.actions.reboot, hard=type == "Hard"))
        return call_result.Reset(status="Accepted")

    @command("UnlockConnector")
    async def on_unlock_connector(self, connector_id: int, **_: object) -> Any:
        if not self._station.has_connector(connector_id):
            return call_result.UnlockConnector(status="NotSupported")
        tx = self._station.active_transaction(connector_id)
        if tx is not None:
            # Spec 5.18: unlocking a connector in use ends its transaction first.
            self._then(functools.partial(self.actions.end_session, tx, "UnlockCommand"))
        return call_result.UnlockConnector(status="Unlocked")

    # Firmware Management

    @command("GetDiagnostics")
    async def on_get_diagnostics(self, location: str, **_: object) -> Any:
        moment = self.actions.now().strftime("%Y%m%dT%H%M%SZ")
        self._then(functools.partial(self.actions.upload_diagnostics, location))
        return call_result.GetDiagnostics(file_name=f"{self._station.station_id}-diagnostics-{moment}.log")

    @command("UpdateFirmware")
    async def on_update_firmware(self, location: str, retrieve_date: str, **_: object) -> Any:
        retrieve_at = datetime.fromisoformat(retrieve_date.replace("Z", "+00:00"))
        self._then(functools.partial(self.actions.update_firmware, location, retrieve_at))
        return call_result.UpdateFirmware()

    # Local Auth List Management

    @command("GetLocalListVersion")
    async def on_get_local_list_version(self, **_: object) -> Any:
        if not self._station.configuration.flag("LocalAuthListEnabled"):
            # Spec 5.9: -1 says the charger keeps no local list.
            return call_result.GetLocalListVersion(list_version=-1)
        return call_result.GetLocalListVersion(list_version=self._station.local_list.version)

    @command("SendLocalList")
    async def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[JsonObject] | None = None,
        **_: object,
    ) -> Any:
        store = self._station.configuration
        if not store.flag("LocalAuthListEnabled"):
            return call_result.SendLocalList(status="NotSupported")
        status = self._station.local_list.update(
            version=list_version,
            update_type=update_type,
            items=local_authorization_list or [],
            max_length=int(store.number("LocalAuthListMaxLength")),
            max_per_message=int(store.number("SendLocalListMaxLength")),
        )
        return call_result.SendLocalList(status=status)

    # Reservation

    @command("ReserveNow")
    async def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
        **_: object,
    ) -> Any:
        expiry = datetime.fromisoformat(expiry_date.replace("Z", "+00:00"))
        if expiry <= self.actions.now():
            return call_result.ReserveNow(status="Rejected")
        reservation = Reservation(reservation_id, connector_id, id_tag, expiry, parent_id_tag)
        status = self._station.reserve(reservation)
        if status == "Accepted":
            self.actions.reservation_made(reservation)
            if connector_id:
                self._then(functools.partial(self.actions.send_status, connector_id))
        return call_result.ReserveNow(status=status)

    @command("CancelReservation")
    async def on_cancel_reservation(self, reservation_id: int, **_: object) -> Any:
        reservation = self._station.cancel_reservation(reservation_id)
        if reservation is None:
            return call_result.CancelReservation(status="Rejected")
        if reservation.connector_id:
            self._then(functools.partial(self.actions.send_status, reservation.connector_id))
        return call_result.CancelReservation(status="Accepted")

    # Smart Charging

    @command("SetChargingProfile")
    async def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: JsonObject, **_: object
    ) -> Any:
        station = self._station
        try:
            profile = ChargingProfile.from_payload(
                connector_id, cs_charging_profiles, installed_at=self.actions.now()
            )
        except ValueError:
            return call_result.SetChargingProfile(status="Rejected")
        tx = station.active_transaction(connector_id) if connector_id else None
        status = station.profiles.install(
            profile, station.profile_limits(), active_transaction=None if tx is None else tx.transaction_id
        )
        return call_result.SetChargingProfile(status=status)

    @command("ClearChargingProfile")
    async def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: object,
    ) -> Any:
        removed = self._station.profiles.clear(
            profile_id=id,
            connector_id=connector_id,
            purpose=charging_profile_purpose,
            stack_level=stack_level,
        )
        return call_result.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @command("GetCompositeSchedule")
    async def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: object
    ) -> Any:
        station = self._station
        if not station.has_connector(connector_id, zero=True):
            return call_result.GetCompositeSchedule(status="Rejected")
        unit = cast(ChargingRateUnit, charging_rate_unit if charging_rate_unit in ("A", "W") else "A")
        start = self.actions.now().replace(microsecond=0)
        tx = station.active_transaction(connector_id) if connector_id else None
        periods = station.profiles.composite(
            connector_id,
            start=start,
            duration=duration,
            unit=unit,
            tx_start=None if tx is None else tx.started_at,
        )
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=timestamp(start),
            charging_schedule={
                "duration": duration,
                "start_schedule": timestamp(start),
                "charging_rate_unit": unit,
                "charging_schedule_period": [
                    {"start_period": p.start_period, "limit": p.limit, "number_phases": p.number_phases}
                    for p in periods
                ],
            },
        )

    # Remote Trigger

    @command("TriggerMessage")
    async def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: object
    ) -> Any:
        if requested_message not in get_args(TriggerableMessage):
            return call_result.TriggerMessage(status="NotImplemented")
        if connector_id is not None and not self._station.has_connector(connector_id, zero=True):
            return call_result.TriggerMessage(status="Rejected")
        message = cast(TriggerableMessage, requested_message)
        self._then(functools.partial(self.actions.send_triggered, message, connector_id))
        return call_result.TriggerMessage(status="Accepted")

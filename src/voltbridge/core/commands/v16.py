"""Typed calls for every command an OCPP 1.6 backend sends. Each builds the wire payload and sends it
through `CommandService` (so it is validated, queued behind the charger's CALL in flight and logged).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from voltbridge.core.commands.service import CommandService
from voltbridge.core.timeutil import iso_utc

Payload = dict[str, Any]


def _drop_none(**fields: Any) -> Payload:
    return {k: v for k, v in fields.items() if v is not None}


class Ocpp16Commands:
    """The 1.6 command set as methods; `source` names who asked (api, portal, smart, ocpi, …)."""

    def __init__(self, commands: CommandService, *, source: str = "api", requested_by: str | None = None):
        self._commands = commands
        self._source = source
        self._requested_by = requested_by

    async def _send(self, station_id: str, action: str, payload: Payload) -> Payload:
        return await self._commands.send(
            station_id, action, payload, source=self._source, requested_by=self._requested_by
        )

    async def remote_start_transaction(
        self,
        station_id: str,
        id_tag: str,
        *,
        connector_id: int | None = None,
        charging_profile: Payload | None = None,
    ) -> Payload:
        return await self._send(
            station_id,
            "RemoteStartTransaction",
            _drop_none(idTag=id_tag, connectorId=connector_id, chargingProfile=charging_profile),
        )

    async def remote_stop_transaction(self, station_id: str, transaction_id: int) -> Payload:
        return await self._send(station_id, "RemoteStopTransaction", {"transactionId": transaction_id})

    async def reset(self, station_id: str, kind: str = "Soft") -> Payload:
        return await self._send(station_id, "Reset", {"type": kind})

    async def unlock_connector(self, station_id: str, connector_id: int) -> Payload:
        return await self._send(station_id, "UnlockConnector", {"connectorId": connector_id})

    async def change_availability(self, station_id: str, connector_id: int, kind: str) -> Payload:
        return await self._send(station_id, "ChangeAvailability", {"connectorId": connector_id, "type": kind})

    async def change_configuration(self, station_id: str, key: str, value: str) -> Payload:
        return await self._send(station_id, "ChangeConfiguration", {"key": key, "value": value})

    async def get_configuration(self, station_id: str, keys: list[str] | None = None) -> Payload:
        return await self._send(station_id, "GetConfiguration", _drop_none(key=keys))

    async def clear_cache(self, station_id: str) -> Payload:
        return await self._send(station_id, "ClearCache", {})

    async def trigger_message(
        self, station_id: str, message: str, connector_id: int | None = None
    ) -> Payload:
        return await self._send(
            station_id, "TriggerMessage", _drop_none(requestedMessage=message, connectorId=connector_id)
        )

    async def data_transfer(
        self, station_id: str, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> Payload:
        return await self._send(
            station_id, "DataTransfer", _drop_none(vendorId=vendor_id, messageId=message_id, data=data)
        )

    async def get_diagnostics(
        self,
        station_id: str,
        location: str,
        *,
        retries: int | None = None,
        retry_interval: int | None = None,
        start_time: datetime | None = None,
        stop_time: datetime | None = None,
    ) -> Payload:
        return await self._send(
            station_id,
            "GetDiagnostics",
            _drop_none(
                location=location,
                retries=retries,
                retryInterval=retry_interval,
                startTime=iso_utc(start_time) if start_time else None,
                stopTime=iso_utc(stop_time) if stop_time else None,
            ),
        )

    async def update_firmware(
        self,
        station_id: str,
        location: str,
        retrieve_date: datetime,
        *,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> Payload:
        return await self._send(
            station_id,
            "UpdateFirmware",
            _drop_none(
                location=location,
                retrieveDate=iso_utc(retrieve_date),
                retries=retries,
                retryInterval=retry_interval,
            ),
        )

    async def send_local_list(
        self, station_id: str, version: int, update_type: str, entries: list[Payload] | None = None
    ) -> Payload:
        return await self._send(
            station_id,
            "SendLocalList",
            _drop_none(listVersion=version, updateType=update_type, localAuthorizationList=entries),
        )

    async def get_local_list_version(self, station_id: str) -> Payload:
        return await self._send(station_id, "GetLocalListVersion", {})

    async def reserve_now(
        self,
        station_id: str,
        connector_id: int,
        expiry: datetime,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
    ) -> Payload:
        return await self._send(
            station_id,
            "ReserveNow",
            _drop_none(
                connectorId=connector_id,
                expiryDate=iso_utc(expiry),
                idTag=id_tag,
                reservationId=reservation_id,
                parentIdTag=parent_id_tag,
            ),
        )

    async def cancel_reservation(self, station_id: str, reservation_id: int) -> Payload:
        return await self._send(station_id, "CancelReservation", {"reservationId": reservation_id})

    async def set_charging_profile(self, station_id: str, connector_id: int, profile: Payload) -> Payload:
        return await self._send(
            station_id, "SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": profile}
        )

    async def clear_charging_profile(
        self,
        station_id: str,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> Payload:
        return await self._send(
            station_id,
            "ClearChargingProfile",
            _drop_none(
                id=profile_id,
                connectorId=connector_id,
                chargingProfilePurpose=purpose,
                stackLevel=stack_level,
            ),
        )

    async def get_composite_schedule(
        self, station_id: str, connector_id: int, duration: int, rate_unit: str | None = None
    ) -> Payload:
        return await self._send(
            station_id,
            "GetCompositeSchedule",
            _drop_none(connectorId=connector_id, duration=duration, chargingRateUnit=rate_unit),
        )

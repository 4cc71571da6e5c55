"""OCPP 1.6 messages from the charger, translated into core/ calls. No rules live here."""

from __future__ import annotations

from typing import Any

from voltbridge.core.authorization import AuthorizationRequest, Purpose
from voltbridge.core.metering import Sample, normalise, normalise_plain
from voltbridge.core.timeutil import ChargerTime, iso_utc, parse_charger_time
from voltbridge.core.tokens.service import IdTagInfo
from voltbridge.core.transactions.service import StartRequest, StopRequest
from voltbridge.ocpp.connection import Connection, Router
from voltbridge.ocpp.services import GatewayServices

Payload = dict[str, Any]


def id_tag_info(info: IdTagInfo) -> Payload:
    out: Payload = {"status": info.status}
    if info.expiry_date is not None:
        out["expiryDate"] = iso_utc(info.expiry_date)
    if info.parent_id_tag:
        out["parentIdTag"] = info.parent_id_tag
    return out


def meter_samples(meter_values: list[Payload]) -> tuple[list[Sample], bool]:
    """Samples of a MeterValues/transactionData list, and whether any timestamp lacked an offset."""
    samples: list[Sample] = []
    add = samples.append
    offset_missing = False
    for entry in meter_values:
        at, missing = parse_charger_time(entry["timestamp"])
        if missing:
            offset_missing = True
        for sv in entry.get("sampledValue", ()):
            # Most sampled values have no phase, location or format: they take the short way.
            if "phase" not in sv and "location" not in sv and "format" not in sv:
                add(
                    normalise_plain(
                        at, sv.get("measurand"), sv.get("unit"), str(sv["value"]), sv.get("context")
                    )
                )
            else:
                add(
                    normalise(
                        at,
                        sv.get("measurand"),
                        sv.get("unit"),
                        str(sv["value"]),
                        phase=sv.get("phase"),
                        location=sv.get("location"),
                        context=sv.get("context"),
                        format=sv.get("format"),
                    )
                )
    return samples, offset_missing


class Ocpp16Handlers:
    """Handlers for every CALL a 1.6 charger sends."""

    def __init__(self, services: GatewayServices) -> None:
        self._s = services

    def router(self) -> Router:
        return {
            "BootNotification": self.boot_notification,
            "Heartbeat": self.heartbeat,
            "StatusNotification": self.status_notification,
            "Authorize": self.authorize,
            "StartTransaction": self.start_transaction,
            "StopTransaction": self.stop_transaction,
            "MeterValues": self.meter_values,
            "DataTransfer": self.data_transfer,
            "DiagnosticsStatusNotification": self.diagnostics_status,
            "FirmwareStatusNotification": self.firmware_status,
            "SecurityEventNotification": self.security_event,
            "SignedFirmwareStatusNotification": self.signed_firmware_status,
            "LogStatusNotification": self.log_status,
            "SignCertificate": self.sign_certificate,
        }

    async def _time(self, conn: Connection, text: str | None, what: str) -> ChargerTime:
        if text is None:
            return ChargerTime(self._s.clock.now(), offset_missing=False)
        at = parse_charger_time(text)
        if at.offset_missing:
            await self._s.stations.record_event(
                conn.station_id, "timestamp_without_offset", {"message": what, "timestamp": text}
            )
        return at

    async def boot_notification(self, conn: Connection, p: Payload) -> Payload:
        decision = await self._s.stations.boot(conn.station_id, p)
        return {
            "status": decision.status,
            "currentTime": iso_utc(self._s.clock.now()),
            "interval": decision.interval,
        }

    async def heartbeat(self, conn: Connection, p: Payload) -> Payload:
        return {"currentTime": iso_utc(await self._s.stations.seen(conn.station_id))}

    async def status_notification(self, conn: Connection, p: Payload) -> Payload:
        at = await self._time(conn, p.get("timestamp"), "StatusNotification")
        await self._s.stations.status_notification(
            conn.station_id,
            p["connectorId"],
            status=p["status"],
            error_code=p["errorCode"],
            at=at.at,
            info=p.get("info"),
            vendor_id=p.get("vendorId"),
            vendor_error_code=p.get("vendorErrorCode"),
        )
        return {}

    async def authorize(self, conn: Connection, p: Payload) -> Payload:
        decision = await self._s.authorization.decide(
            AuthorizationRequest(conn.station_id, p["idTag"], Purpose.AUTHORIZE, p)
        )
        return {"idTagInfo": id_tag_info(decision.info)}

    async def start_transaction(self, conn: Connection, p: Payload) -> Payload:
        at = await self._time(conn, p["timestamp"], "StartTransaction")
        request = StartRequest(
            station_id=conn.station_id,
            connector_id=p["connectorId"],
            id_tag=p["idTag"],
            meter_start_wh=p["meterStart"],
            started_at=at.at,
            reservation_id=p.get("reservationId"),
            flags=("start_time_without_offset",) if at.offset_missing else (),
        )

        async def decide() -> IdTagInfo:
            auth = AuthorizationRequest(conn.station_id, p["idTag"], Purpose.START, p)
            return (await self._s.authorization.decide(auth)).info

        result = await self._s.transactions.start(request, decide)
        return {"transactionId": result.transaction.id, "idTagInfo": id_tag_info(result.id_tag_info)}

    async def stop_transaction(self, conn: Connection, p: Payload) -> Payload:
        at = await self._time(conn, p["timestamp"], "StopTransaction")
        samples, offset_missing = meter_samples(p.get("transactionData", []))
        flags = [
            name
            for name, on in (
                ("stop_time_without_offset", at.offset_missing),
                ("meter_time_without_offset", offset_missing),
            )
            if on
        ]
        await self._s.transactions.stop(
            StopRequest(
                station_id=conn.station_id,
                transaction_id=p["transactionId"],
                meter_stop_wh=p["meterStop"],
                stopped_at=at.at,
                reason=p.get("reason"),
                id_tag=p.get("idTag"),
                samples=samples,
                flags=flags,
            )
        )
        if p.get("idTag") is None:
            return {}
        # The stop itself is never refused; the idTagInfo only tells the charger about the card.
        info = await self._s.authorization.platform_decision(conn.station_id, p["idTag"])
        return {"idTagInfo": id_tag_info(info)}

    async def meter_values(self, conn: Connection, p: Payload) -> Payload:
        samples, offset_missing = meter_samples(p["meterValue"])
        if offset_missing:
            await self._s.stations.record_event(
                conn.station_id, "timestamp_without_offset", {"message": "MeterValues"}
            )
        await self._s.transactions.meter_values(
            conn.station_id, p["connectorId"], p.get("transactionId"), samples
        )
        return {}

    async def data_transfer(self, conn: Connection, p: Payload) -> Payload:
        await self._s.stations.record_event(conn.station_id, "data_transfer", p)
        # No vendor extensions are installed; the message is kept, and the charger told so honestly.
        return {"status": "UnknownVendorId"}

    async def diagnostics_status(self, conn: Connection, p: Payload) -> Payload:
        await self._s.stations.record_event(conn.station_id, "diagnostics_status", p)
        return {}

    async def firmware_status(self, conn: Connection, p: Payload) -> Payload:
        await self._s.stations.record_event(conn.station_id, "firmware_status", p)
        return {}

    async def security_event(self, conn: Connection, p: Payload) -> Payload:
        await self._s.stations.record_event(conn.station_id, "security_event", p)
        return {}

    async def signed_firmware_status(self, conn: Connection, p: Payload) -> Payload:
        await self._s.stations.record_event(conn.station_id, "firmware_status", p)
        return {}

    async def log_status(self, conn: Connection, p: Payload) -> Payload:
        await self._s.stations.record_event(conn.station_id, "log_status", p)
        return {}

    async def sign_certificate(self, conn: Connection, p: Payload) -> Payload:
        await self._s.stations.record_event(
            conn.station_id, "sign_certificate", {"csr_length": len(p["csr"])}
        )
        return {"status": "Rejected"}  # no certificate authority is configured for charger certificates

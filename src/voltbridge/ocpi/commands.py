"""Commands receiver: OCPI commands bridged to OCPP 1.6 through CommandService.

We answer at once with a CommandResponse (ACCEPTED and the time the eMSP should wait, or why not),
then send the OCPP command and POST the CommandResult to the eMSP's response_url. Nobody retries
that callback (OCPI-NOTES 4.1), so it is attempted a few times here before giving up.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from voltbridge.core.clock import Clock
from voltbridge.core.commands.service import CommandService
from voltbridge.core.commands.v16 import Ocpp16Commands
from voltbridge.core.errors import NotFound, StationOffline, StationRejected, StationTimeout, VoltbridgeError
from voltbridge.ocpi.client import OcpiClient
from voltbridge.ocpi.errors import InvalidParameters, PartnerCallFailed, UnknownLocation
from voltbridge.ocpi.options import OcpiOptions
from voltbridge.ocpi.sources import EvseRef, LocationSource
from voltbridge.ocpi.tokens import cdr_token, remember_start
from voltbridge.ocpi.v221.commands import (
    CancelReservation,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from voltbridge.ocpi.v221.locations import Status
from voltbridge.ocpi.v221.sessions import AuthMethod
from voltbridge.store import Database
from voltbridge.store.models.ocpi import OcpiCommand, OcpiPartner, OcpiReservation, OcpiSession

log = logging.getLogger(__name__)

_MODELS: dict[CommandType, type[BaseModel]] = {
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.CANCEL_RESERVATION: CancelReservation,
}

_OCPP_RESULT = {
    "Accepted": CommandResultType.ACCEPTED,
    "Rejected": CommandResultType.REJECTED,
    "Unlocked": CommandResultType.ACCEPTED,
    "UnlockFailed": CommandResultType.FAILED,
    "NotSupported": CommandResultType.NOT_SUPPORTED,
    "Occupied": CommandResultType.EVSE_OCCUPIED,
    "Faulted": CommandResultType.EVSE_INOPERATIVE,
    "Unavailable": CommandResultType.EVSE_INOPERATIVE,
}


class CommandBridge:
    """Receives OCPI commands and carries them out on our chargers."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        options: OcpiOptions,
        commands: CommandService,
        locations: LocationSource,
        client: OcpiClient,
    ) -> None:
        self._db = db
        self._clock = clock
        self._options = options
        self._ocpp = Ocpp16Commands(commands, source="ocpi")
        self._locations = locations
        self._client = client
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(self, partner: OcpiPartner, command: str, body: object) -> dict[str, Any]:
        """Answer a command synchronously and start carrying it out."""
        try:
            kind = CommandType(command)
        except ValueError:
            return _response(CommandResponseType.NOT_SUPPORTED, 0, f"unknown command {command}")
        try:
            request = _MODELS[kind].model_validate(body)
        except ValidationError as exc:
            raise InvalidParameters(f"invalid {kind} request: {exc}") from exc
        target = await self._target(partner, kind, request)
        if isinstance(target, dict):  # refused before reaching a charger
            await self._record(partner, kind, body, target["result"], None)
            return target
        timeout = self._options.command_timeout
        row = await self._record(partner, kind, body, CommandResponseType.ACCEPTED, None)
        task = asyncio.create_task(self._carry_out(partner, row, kind, request, target), name=f"ocpi-{kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return _response(CommandResponseType.ACCEPTED, timeout)

    async def close(self) -> None:
        """Wait briefly for commands in flight, then cancel what remains."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every command in flight has posted its result (tests)."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    async def _target(self, partner: OcpiPartner, kind: CommandType, request: BaseModel) -> Any:
        if isinstance(request, StartSession | ReserveNow):
            ref = await self._locations.evse(request.location_id, request.evse_uid)
            if ref is None:
                raise UnknownLocation(f"unknown location {request.location_id} / EVSE {request.evse_uid}")
            if ref.status in (Status.OUTOFORDER, Status.INOPERATIVE, Status.REMOVED):
                return _response(CommandResponseType.REJECTED, 0, f"EVSE {ref.evse_uid} is {ref.status}")
            return ref
        if isinstance(request, UnlockConnector):
            ref = await self._locations.evse(request.location_id, request.evse_uid)
            if ref is None or ref.connector_id.casefold() != request.connector_id.casefold():
                raise UnknownLocation(
                    f"unknown connector {request.location_id}/{request.evse_uid}/{request.connector_id}"
                )
            return ref
        if isinstance(request, StopSession):
            async with self._db.read() as session:
                row = await session.scalar(
                    select(OcpiSession).where(
                        OcpiSession.id == request.session_id, OcpiSession.partner_id == partner.id
                    )
                )
            if row is None or row.transaction_id is None or row.status != "ACTIVE":
                return _response(
                    CommandResponseType.UNKNOWN_SESSION, 0, f"no active session {request.session_id}"
                )
            return row
        if isinstance(request, CancelReservation):
            async with self._db.read() as session:
                reservation = await session.scalar(
                    select(OcpiReservation).where(
                        OcpiReservation.partner_id == partner.id,
                        OcpiReservation.reservation_key == request.reservation_id.casefold(),
                        OcpiReservation.status == "active",
                    )
                )
            if reservation is None:
                return _response(
                    CommandResponseType.REJECTED, 0, f"unknown reservation {request.reservation_id}"
                )
            return reservation
        return _response(CommandResponseType.NOT_SUPPORTED, 0)

    async def _carry_out(
        self, partner: OcpiPartner, row: OcpiCommand, kind: CommandType, request: Any, target: Any
    ) -> None:
        try:
            async with asyncio.timeout(self._options.command_timeout):
                result, message = await self._execute(partner, kind, request, target)
        except TimeoutError:
            result, message = CommandResultType.TIMEOUT, "the charger did not answer in time"
        except StationTimeout:
            result, message = CommandResultType.TIMEOUT, "the charger did not answer in time"
        except StationOffline:
            result, message = CommandResultType.FAILED, "the charger is offline"
        except StationRejected as exc:
            result, message = CommandResultType.FAILED, f"the charger refused: {exc.code}"
        except (VoltbridgeError, NotFound) as exc:
            result, message = CommandResultType.FAILED, str(exc)
        except Exception:
            log.exception("OCPI %s failed", kind)
            result, message = CommandResultType.FAILED, "internal error"
        delivered = await self._post_result(partner, request.response_url, result, message)
        async with self._db.transaction() as session:
            stored = await session.get(OcpiCommand, row.id)
            if stored is not None:
                stored.result = str(result)
                stored.result_delivered = delivered
                stored.completed_at = self._clock.now()

    async def _execute(
        self, partner: OcpiPartner, kind: CommandType, request: Any, target: Any
    ) -> tuple[CommandResultType, str | None]:
        if kind is CommandType.START_SESSION:
            ref: EvseRef = target
            token = request.token
            await remember_start(
                self._db,
                self._clock,
                partner_id=partner.id,
                station_id=ref.station_id,
                connector_id=ref.ocpp_connector_id,
                id_tag=token.uid,
                token=cdr_token(token),
                method=AuthMethod.COMMAND,
                reference=request.authorization_reference,
                ttl=self._options.pending_start_ttl,
            )
            answer = await self._ocpp.remote_start_transaction(
                ref.station_id, token.uid, connector_id=ref.ocpp_connector_id
            )
            return _OCPP_RESULT.get(str(answer.get("status")), CommandResultType.FAILED), None
        if kind is CommandType.STOP_SESSION:
            session: OcpiSession = target
            assert session.transaction_id is not None
            answer = await self._ocpp.remote_stop_transaction(session.station_id, session.transaction_id)
            return _OCPP_RESULT.get(str(answer.get("status")), CommandResultType.FAILED), None
        if kind is CommandType.UNLOCK_CONNECTOR:
            ref = target
            answer = await self._ocpp.unlock_connector(ref.station_id, ref.ocpp_connector_id)
            return _OCPP_RESULT.get(str(answer.get("status")), CommandResultType.FAILED), None
        if kind is CommandType.RESERVE_NOW:
            ref = target
            reservation_id = await self._reservation(partner, request, ref)
            answer = await self._ocpp.reserve_now(
                ref.station_id, ref.ocpp_connector_id, request.expiry_date, request.token.uid, reservation_id
            )
            result = _OCPP_RESULT.get(str(answer.get("status")), CommandResultType.FAILED)
            if result is CommandResultType.ACCEPTED:
                await remember_start(
                    self._db,
                    self._clock,
                    partner_id=partner.id,
                    station_id=ref.station_id,
                    connector_id=ref.ocpp_connector_id,
                    id_tag=request.token.uid,
                    token=cdr_token(request.token),
                    method=AuthMethod.COMMAND,
                    reference=request.authorization_reference,
                    ttl=max(int((request.expiry_date - self._clock.now()).total_seconds()), 60),
                )
            await self._set_reservation(
                reservation_id, "active" if result is CommandResultType.ACCEPTED else "refused"
            )
            return result, None
        reservation: OcpiReservation = target
        answer = await self._ocpp.cancel_reservation(reservation.station_id, reservation.id)
        result = _OCPP_RESULT.get(str(answer.get("status")), CommandResultType.FAILED)
        if result is CommandResultType.ACCEPTED:
            await self._set_reservation(reservation.id, "canceled")
        return result, None

    async def _reservation(self, partner: OcpiPartner, request: ReserveNow, ref: EvseRef) -> int:
        # An existing reservation id is replaced (spec): reuse its OCPP id so the charger replaces it too.
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(OcpiReservation).where(
                    OcpiReservation.partner_id == partner.id,
                    OcpiReservation.reservation_key == request.reservation_id.casefold(),
                )
            )
            if row is None:
                row = OcpiReservation(
                    partner_id=partner.id, reservation_key=request.reservation_id.casefold(), created_at=now
                )
                session.add(row)
            row.station_id = ref.station_id
            row.connector_id = ref.ocpp_connector_id
            row.status = "requested"
            row.expires_at = request.expiry_date
            await session.flush()
            return row.id

    async def _set_reservation(self, reservation_id: int, status: str) -> None:
        async with self._db.transaction() as session:
            row = await session.get(OcpiReservation, reservation_id)
            if row is not None:
                row.status = status

    async def _post_result(
        self, partner: OcpiPartner, url: str, result: CommandResultType, message: str | None
    ) -> bool:
        body = CommandResult(
            result=result,
            message=[{"language": "en", "text": message[:512]}] if message else [],
        ).to_wire()
        for attempt in range(3):
            try:
                await self._client.to_partner(partner, "POST", url, module="commands", json=body)
                return True
            except PartnerCallFailed as exc:
                log.warning("CommandResult to %s failed (attempt %d): %s", url, attempt + 1, exc)
                if not exc.transient:
                    return False
                await asyncio.sleep(0.5 * 2**attempt)
        return False

    async def _record(
        self, partner: OcpiPartner, kind: CommandType, body: object, response: str, result: str | None
    ) -> OcpiCommand:
        row = OcpiCommand(
            partner_id=partner.id,
            command=str(kind),
            payload=body if isinstance(body, dict) else {},
            response=str(response),
            result=result,
            result_delivered=False,
            created_at=self._clock.now(),
        )
        async with self._db.transaction() as session:
            session.add(row)
        return row


def _response(result: CommandResponseType, timeout: int, message: str | None = None) -> dict[str, Any]:
    return CommandResponse(
        result=result,
        timeout=timeout,
        message=[{"language": "en", "text": message[:512]}] if message else [],
    ).to_wire()

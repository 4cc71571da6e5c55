"""Commands receiver bridged to OCPP 1.6 on a real charger, with the CommandResult at response_url."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, CancelReservationStatus, ReservationStatus

from tests.chargers import TestCharger
from tests.ocpi.conftest import charger, ocpi_client, register
from tests.ocpi.partner import ScriptedPartner
from voltbridge.app import App
from voltbridge.ocpi.v221.sessions import Session


class ReservingCharger(TestCharger):
    """The test charger, also answering ReserveNow and CancelReservation."""

    @on(Action.reserve_now)
    async def on_reserve_now(self, **kw: Any) -> call_result.ReserveNow:
        self._got("ReserveNow", **kw)
        return call_result.ReserveNow(status=ReservationStatus.accepted)

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int) -> call_result.CancelReservation:
        self._got("CancelReservation", reservation_id=reservation_id)
        return call_result.CancelReservation(status=CancelReservationStatus.accepted)


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_start_stop_unlock_reserve_cancel(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    await register(api, partner)
    assert partner.ours is not None
    token = partner.token("APPUSER1", type="APP_USER", whitelist="NEVER")
    results = f"{partner.base_url}/2.2.1/commands/results"
    async with (
        charger(cpo, "CP-CMD", charger_class=ReservingCharger) as cp,
        ocpi_client(cpo, partner.ours) as ocpi,
    ):
        start = await ocpi.post(
            "/2.2.1/commands/START_SESSION",
            json={
                "response_url": f"{results}/start",
                "token": token,
                "location_id": "S-CP-CMD",
                "evse_uid": "CP-CMD-1",
                "authorization_reference": "REF-START-1",
            },
        )
        assert start.status_code == 200
        assert start.json()["data"]["result"] == "ACCEPTED" and start.json()["data"]["timeout"] > 0
        await partner.wait_for(lambda: any(ref == "start" for ref, _ in partner.command_results))
        assert dict(partner.command_results)["start"]["result"] == "ACCEPTED"
        assert ("RemoteStartTransaction", {"id_tag": "APPUSER1", "connector_id": 1}) in cp.received
        # The charger starts; the eMSP's token is accepted (it authorized the start) and the
        # session carries the command's auth method and reference.
        begun = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="APPUSER1", meter_start=0, timestamp=ts(datetime.now(UTC))
            )
        )
        assert begun.id_tag_info["status"] == "Accepted"
        session_id = str(begun.transaction_id)
        await partner.wait_for(lambda: session_id in partner.sessions)
        session = Session.model_validate(partner.sessions[session_id])
        assert session.auth_method == "COMMAND" and session.authorization_reference == "REF-START-1"
        assert session.cdr_token.type == "APP_USER"

        stop = await ocpi.post(
            "/2.2.1/commands/STOP_SESSION", json={"response_url": f"{results}/stop", "session_id": session_id}
        )
        assert stop.json()["data"]["result"] == "ACCEPTED"
        await partner.wait_for(lambda: any(ref == "stop" for ref, _ in partner.command_results))
        assert ("RemoteStopTransaction", {"transaction_id": int(session_id)}) in cp.received

        unlock = await ocpi.post(
            "/2.2.1/commands/UNLOCK_CONNECTOR",
            json={
                "response_url": f"{results}/unlock",
                "location_id": "S-CP-CMD",
                "evse_uid": "CP-CMD-1",
                "connector_id": "1",
            },
        )
        assert unlock.json()["data"]["result"] == "ACCEPTED"
        await partner.wait_for(lambda: any(ref == "unlock" for ref, _ in partner.command_results))
        assert dict(partner.command_results)["unlock"]["result"] == "ACCEPTED"

        expiry = datetime.now(UTC) + timedelta(minutes=15)
        reserve = await ocpi.post(
            "/2.2.1/commands/RESERVE_NOW",
            json={
                "response_url": f"{results}/reserve",
                "token": token,
                "expiry_date": ts(expiry),
                "reservation_id": "RES-1",
                "location_id": "S-CP-CMD",
            },
        )
        assert reserve.json()["data"]["result"] == "ACCEPTED"
        await partner.wait_for(lambda: any(ref == "reserve" for ref, _ in partner.command_results))
        assert dict(partner.command_results)["reserve"]["result"] == "ACCEPTED"
        reserved = next(kw for action, kw in cp.received if action == "ReserveNow")
        assert reserved["id_tag"] == "APPUSER1" and reserved["connector_id"] == 1
        cancel = await ocpi.post(
            "/2.2.1/commands/CANCEL_RESERVATION",
            json={"response_url": f"{results}/cancel", "reservation_id": "res-1"},
        )
        assert cancel.json()["data"]["result"] == "ACCEPTED"
        await partner.wait_for(lambda: any(ref == "cancel" for ref, _ in partner.command_results))
        assert ("CancelReservation", {"reservation_id": reserved["reservation_id"]}) in cp.received

        # Refusals answered synchronously.
        unknown_session = await ocpi.post(
            "/2.2.1/commands/STOP_SESSION", json={"response_url": f"{results}/x", "session_id": "NOPE"}
        )
        assert unknown_session.json()["data"]["result"] == "UNKNOWN_SESSION"
        unknown_location = await ocpi.post(
            "/2.2.1/commands/START_SESSION",
            json={"response_url": f"{results}/x", "token": token, "location_id": "NOWHERE"},
        )
        assert unknown_location.json()["status_code"] == 2003
        unsupported = await ocpi.post("/2.2.1/commands/SELF_DESTRUCT", json={})
        assert unsupported.json()["data"]["result"] == "NOT_SUPPORTED"
        invalid = await ocpi.post("/2.2.1/commands/STOP_SESSION", json={"session_id": "1"})
        assert invalid.json()["status_code"] == 2001
    kpis = (await api.get("/api/v1/ocpi/partners/1/kpis")).json()
    assert kpis["command_success_rate"] is not None
    assert partner.problems == []


async def test_a_command_to_an_offline_charger_fails_with_a_result(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    await register(api, partner)
    assert partner.ours is not None
    async with charger(cpo, "CP-GONE"):
        pass  # it was seen once, then went away: its EVSE is published with status UNKNOWN
    async with ocpi_client(cpo, partner.ours) as ocpi:
        answer = await ocpi.post(
            "/2.2.1/commands/UNLOCK_CONNECTOR",
            json={
                "response_url": f"{partner.base_url}/2.2.1/commands/results/gone",
                "location_id": "S-CP-GONE",
                "evse_uid": "CP-GONE-1",
                "connector_id": "1",
            },
        )
        assert answer.json()["data"]["result"] == "ACCEPTED"
    await partner.wait_for(lambda: bool(partner.command_results))
    assert partner.command_results[0][1]["result"] == "FAILED"
    assert "offline" in partner.command_results[0][1]["message"][0]["text"]

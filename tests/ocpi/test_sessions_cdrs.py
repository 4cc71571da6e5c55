"""Sessions and CDRs of a roaming driver, end to end on a real OCPP charger, and Tariffs pushes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from ocpp.v16 import call
from sqlalchemy import select

from tests.ocpi.conftest import billing_tariff, charger, ocpi_client, register, wait_until
from tests.ocpi.partner import ScriptedPartner
from voltbridge.app import App
from voltbridge.ocpi.v221.cdrs import Cdr
from voltbridge.ocpi.v221.sessions import Session
from voltbridge.ocpi.v221.tariffs import Tariff
from voltbridge.store.models.ocpi import OcpiCdr

EXAMPLES = Path(__file__).parents[3] / "shared" / "data" / "ocpi" / "spec-examples-2.2.1"


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def charge(cp: object, id_tag: str, start: datetime, partner: ScriptedPartner | None = None) -> int:
    """Start, one meter value, stop: 1000 Wh -> 6000 Wh over 40 minutes (with `partner`: each step
    waits until the partner got its push, so none is superseded by the next)."""
    started = await cp.call(  # type: ignore[attr-defined]
        call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=ts(start))
    )
    tx = int(started.transaction_id)
    if partner is not None:
        await partner.wait_for(lambda: bool(partner.calls("PUT", f"/sessions/NL/VBR/{tx}")))
    await cp.call(  # type: ignore[attr-defined]
        call.MeterValues(
            connector_id=1,
            transaction_id=tx,
            meter_value=[
                {"timestamp": ts(start + timedelta(minutes=20)), "sampledValue": [{"value": "3000"}]}
            ],
        )
    )
    if partner is not None:
        await partner.wait_for(lambda: bool(partner.calls("PATCH", f"/sessions/NL/VBR/{tx}")))
    await cp.call(  # type: ignore[attr-defined]
        call.StopTransaction(meter_stop=6000, timestamp=ts(start + timedelta(minutes=40)), transaction_id=tx)
    )
    return tx


async def test_roaming_session_is_pushed_put_patch_put_and_its_cdr_posted(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    tariff_id = await billing_tariff(cpo, "tariff_8_simple_025kwh.json", station_id="CP-SES")
    await register(api, partner)
    assert partner.ours is not None
    async with ocpi_client(cpo, partner.ours) as ocpi:
        await ocpi.put("/2.2.1/tokens/DE/EMS/ROAM1", json=partner.token("ROAM1", whitelist="ALWAYS"))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    async with charger(cpo, "CP-SES") as cp:
        assert (await cp.call(call.Authorize(id_tag="ROAM1"))).id_tag_info["status"] == "Accepted"
        tx = await charge(cp, "ROAM1", start, partner)
        await partner.wait_for(lambda: bool(partner.cdrs))
    session_id = str(tx)
    puts = [r for r in partner.calls("PUT", f"/sessions/NL/VBR/{session_id}")]
    assert [r.body["status"] for r in puts] == ["ACTIVE", "COMPLETED"]
    assert partner.calls("PATCH", f"/sessions/NL/VBR/{session_id}")[0].body["kwh"] == 2  # 3000 - 1000 Wh
    final = Session.model_validate(partner.sessions[session_id])
    assert final.kwh == Decimal(5) and final.auth_method == "WHITELIST"
    assert final.cdr_token.uid == "ROAM1" and final.cdr_token.party_id == "EMS"
    assert final.total_cost is not None and final.total_cost.excl_vat == Decimal("1.25")
    cdr_id, cdr_body = next(iter(partner.cdrs.items()))  # billing's CDR id
    cdr = Cdr.model_validate(cdr_body)
    assert cdr.session_id == session_id
    assert cdr.total_cost.excl_vat == Decimal("1.25") and cdr.total_cost.incl_vat == Decimal(
        "1.38"
    )  # the engine rounds money to cents
    assert cdr.total_energy == Decimal(5) and cdr.cdr_location.evse_uid == "CP-SES-1"
    assert cdr.tariffs[0].id == tariff_id and cdr.charging_periods[0].tariff_id == tariff_id
    assert partner.tariffs[tariff_id]["currency"] == "EUR"  # the tariff was pushed on registration

    async def accepted() -> bool:
        async with cpo.db.read() as s:
            stored = await s.get(OcpiCdr, cdr_id)
            return stored is not None and stored.push_status == "accepted"

    await wait_until(accepted)
    async with cpo.db.read() as s:
        stored = await s.get(OcpiCdr, cdr_id)
        assert stored is not None
        assert stored.partner_location == f"{partner.base_url}/2.2.1/cdrs/{cdr_id}"
    # The Sender side serves the same objects.
    async with ocpi_client(cpo, partner.ours) as ocpi:
        no_from = await ocpi.get("/2.2.1/sessions")
        assert no_from.json()["status_code"] == 2001
        sessions = await ocpi.get("/2.2.1/sessions", params={"date_from": "2000-01-01T00:00:00Z"})
        assert [s["id"] for s in sessions.json()["data"]] == [session_id]
        cdrs = await ocpi.get("/2.2.1/cdrs")
        assert [c["id"] for c in cdrs.json()["data"]] == [cdr_id]
        tariffs = await ocpi.get("/2.2.1/tariffs")
        Tariff.model_validate(tariffs.json()["data"][0])
        assert (await ocpi.get(f"/2.2.1/cdrs/{cdr_id}")).json()["data"]["session_id"] == session_id
    assert partner.problems == []


async def test_a_rejected_cdr_stays_visible_and_counts_in_the_kpis(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    partner.reject_cdrs = True
    created = await register(api, partner)
    assert partner.ours is not None
    async with ocpi_client(cpo, partner.ours) as ocpi:
        await ocpi.put("/2.2.1/tokens/DE/EMS/ROAM2", json=partner.token("ROAM2", whitelist="ALLOWED"))
    async with charger(cpo, "CP-REJ") as cp:
        tx = await charge(cp, "ROAM2", datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
        await partner.wait_for(lambda: bool(partner.calls("POST", "/cdrs")))

    async def rejected() -> bool:
        async with cpo.db.read() as s:
            row = await s.scalar(select(OcpiCdr).where(OcpiCdr.transaction_id == tx))
            return row is not None and row.push_status == "rejected"

    await wait_until(rejected)
    pushes = (
        await api.get(f"/api/v1/ocpi/partners/{created['id']}/pushes", params={"status": "rejected"})
    ).json()
    assert pushes["total"] == 1 and pushes["items"][0]["module"] == "cdrs"
    assert "2001" in pushes["items"][0]["last_error"] and pushes["items"][0]["ocpi_status"] == 2001
    kpis = (await api.get(f"/api/v1/ocpi/partners/{created['id']}/kpis")).json()
    assert kpis["cdr_acceptance_rate"] == 0.0 and kpis["cdrs_rejected"] == 1
    assert kpis["calls_out"] > 0 and kpis["calls_in"] > 0 and kpis["last_error"]
    assert partner.calls("POST", "/cdrs")[0].body["session_id"] == str(tx)
    audit = (
        await api.get(f"/api/v1/ocpi/partners/{created['id']}/audit", params={"direction": "out"})
    ).json()
    assert audit["total"] > 0 and all(item["direction"] == "out" for item in audit["items"])


async def test_tariffs_are_put_and_deleted_at_partners(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    await register(api, partner)
    tariff_id = await billing_tariff(cpo, "tariff_4_complex.json")
    await partner.wait_for(lambda: tariff_id in partner.tariffs)
    Tariff.model_validate(partner.tariffs[tariff_id])
    assert partner.tariffs[tariff_id]["elements"][0]["price_components"][0]["price"] == 2.5
    view = (await cpo.billing.tariffs.get_all())[0][0]
    await cpo.billing.tariffs.delete(view.id)
    await cpo.ocpi.publisher.push_tariff(tariff_id, deleted=True)
    await partner.wait_for(lambda: tariff_id not in partner.tariffs)
    assert partner.problems == []

"""Locations Sender: GET list with pagination edges, GET objects, pushes (PUT, then EVSE PATCH)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from ocpp.v16 import call
from sqlalchemy import event, update

from tests.ocpi.conftest import charger, ocpi_client, register
from tests.ocpi.partner import ScriptedPartner
from voltbridge.app import App
from voltbridge.ocpi.transport import parse_link_next
from voltbridge.ocpi.v221.locations import Location
from voltbridge.store.models import Station


async def test_a_station_is_pushed_as_a_location_then_its_status_as_evse_patches(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    await register(api, partner)
    async with charger(cpo, "CP-LOC-1") as cp:
        await partner.wait_for(lambda: any(k.startswith("S-CP-LOC-1") for k in partner.locations))
        put = partner.locations["S-CP-LOC-1"]
        location = Location.model_validate(put)  # what we PUT is a valid 2.2.1 Location
        assert location.evses[0].status == "AVAILABLE"
        assert location.evses[0].uid == "CP-LOC-1-1"
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        await partner.wait_for(lambda: "S-CP-LOC-1/CP-LOC-1-1" in partner.locations)
        patch = partner.locations["S-CP-LOC-1/CP-LOC-1-1"]
        assert patch["status"] == "CHARGING" and "last_updated" in patch
    assert partner.problems == []


async def test_get_list_pages_with_link_total_and_limit(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    await register(api, partner)
    assert partner.ours is not None
    async with (
        charger(cpo, "CP-A"),
        charger(cpo, "CP-B"),
        charger(cpo, "CP-C"),
        ocpi_client(cpo, partner.ours) as ocpi,
    ):
        first = await ocpi.get("/2.2.1/locations", params={"limit": 2})
        assert first.status_code == 200
        assert first.headers["X-Total-Count"] == "3"
        assert first.headers["X-Limit"] == "100"
        assert len(first.json()["data"]) == 2
        next_url = parse_link_next(first.headers.get("Link"))
        assert next_url is not None
        query = parse_qs(urlsplit(next_url).query)
        assert query["offset"] == ["2"] and query["limit"] == ["2"]  # the Link repeats the limit
        second = await ocpi.get(next_url)
        assert len(second.json()["data"]) == 1 and "Link" not in second.headers
        ids = [loc["id"] for loc in first.json()["data"] + second.json()["data"]]
        assert sorted(ids) == ["S-CP-A", "S-CP-B", "S-CP-C"]
        # date_from is inclusive, date_to exclusive (on last_updated).
        newest = max(first.json()["data"] + second.json()["data"], key=lambda loc: loc["last_updated"])
        window = await ocpi.get("/2.2.1/locations", params={"date_from": newest["last_updated"]})
        assert newest["id"] in [loc["id"] for loc in window.json()["data"]]
        before = await ocpi.get("/2.2.1/locations", params={"date_to": newest["last_updated"]})
        assert newest["id"] not in [loc["id"] for loc in before.json()["data"]]
        # A limit above the cap is lowered to it; an offset past the end is an empty page.
        assert (await ocpi.get("/2.2.1/locations", params={"offset": 10})).json()["data"] == []
        # Objects by id, compared without case; trailing slashes accepted.
        evse = await ocpi.get("/2.2.1/locations/s-cp-a/CP-A-1/")
        assert evse.status_code == 200 and evse.json()["data"]["uid"] == "CP-A-1"
        connector = await ocpi.get("/2.2.1/locations/S-CP-A/CP-A-1/1")
        assert connector.json()["data"]["standard"] == "IEC_62196_T2"
        missing = await ocpi.get("/2.2.1/locations/NOPE")
        assert missing.status_code == 404 and missing.json()["status_code"] == 2000
        bad = await ocpi.get("/2.2.1/locations", params={"date_from": "yesterday"})
        assert bad.status_code == 400 and bad.json()["status_code"] == 2001


async def test_invisible_stations_are_never_published(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    await register(api, partner)
    assert partner.ours is not None
    await cpo.stations.register("CP-PRIVATE")
    async with cpo.db.transaction() as session:
        await session.execute(update(Station).where(Station.id == "CP-PRIVATE").values(visible=False))
    async with charger(cpo, "CP-PUBLIC"), charger(cpo, "CP-PRIVATE"):
        async with ocpi_client(cpo, partner.ours) as ocpi:
            ids = [loc["id"] for loc in (await ocpi.get("/2.2.1/locations")).json()["data"]]
            assert ids == ["S-CP-PUBLIC"]
            assert (await ocpi.get("/2.2.1/locations/S-CP-PRIVATE")).status_code == 404
        await partner.wait_for(lambda: "S-CP-PUBLIC" in partner.locations)
        await cpo.bus.drain()  # type: ignore[attr-defined]
        await cpo.ocpi.outbox.drain()
    assert not any("PRIVATE" in key for key in partner.locations)


async def test_an_area_is_one_location_and_a_station_s_lookup_reads_only_its_area(
    cpo: App, api: httpx.AsyncClient, partner: ScriptedPartner
) -> None:
    await register(api, partner)
    assert partner.ours is not None
    garage = await cpo.areas.create({"code": "GARAGE-1", "name": "Garage"})
    depot = await cpo.areas.create({"code": "DEPOT-1", "name": "Depot"})
    for station_id, area in (("CP-G1", garage), ("CP-G2", garage), ("CP-D1", depot)):
        await cpo.stations.register(station_id, area_id=area.id)
    loads: list[str] = []

    def count(target: Station, _context: object) -> None:
        loads.append(target.id)

    async with charger(cpo, "CP-G1"), charger(cpo, "CP-G2"), charger(cpo, "CP-D1"), charger(cpo, "CP-LOOSE"):
        source = cpo.ocpi.locations
        await cpo.bus.drain()  # type: ignore[attr-defined]  # the chargers' own events are handled
        event.listen(Station, "load", count)
        try:
            garage_location = await source.location_of("CP-G2")
            ref = await source.evse_of("CP-G1", 1)
        finally:
            event.remove(Station, "load", count)
        assert garage_location is not None and garage_location.id == "GARAGE-1"
        assert [e.uid for e in garage_location.evses] == ["CP-G1-1", "CP-G2-1"]
        assert ref is not None and (ref.location_id, ref.station_id) == ("GARAGE-1", "CP-G1")
        assert "CP-D1" not in loads and "CP-LOOSE" not in loads  # no other area, no loose station read
        assert (await source.evses_at("CP-G2"))[0].evse_uid == "CP-G2-1"
        loose = await source.location("s-cp-loose")  # ids compare without case
        assert loose is not None and loose.id == "S-CP-LOOSE"
        assert await source.evse("depot-1", None) is not None
        assert await source.location("NOWHERE") is None
        async with ocpi_client(cpo, partner.ours) as ocpi:
            got = (await ocpi.get("/2.2.1/locations/GARAGE-1")).json()["data"]
            assert [e["uid"] for e in got["evses"]] == ["CP-G1-1", "CP-G2-1"]
            assert (await ocpi.get("/2.2.1/locations/NOWHERE")).status_code == 404

"""Helpers for billing's end-to-end tests: a site over the REST API, tariffs, and sessions charged by a
real OCPP 1.6 client (`tests.chargers`), waiting on bus events rather than sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, RemoteStartStopStatus

from tests.chargers import TestCharger
from voltbridge.app import App
from voltbridge.bus import Event

AMSTERDAM = "Europe/Amsterdam"
WAIT = 15.0
E = TypeVar("E", bound=Event)


def ts(at: datetime) -> str:
    """A charger timestamp (UTC with Z)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Site:
    operator_id: int
    area_id: int


async def make_site(
    client: httpx.AsyncClient,
    code: str,
    station_ids: Sequence[str],
    *,
    timezone: str = AMSTERDAM,
    **operator: Any,
) -> Site:
    """An operator, one charging area of it, and stations in that area (all through the API)."""
    created = await client.post(
        "/api/v1/operators", json={"code": code, "name": f"Operator {code}", "timezone": timezone, **operator}
    )
    assert created.status_code == 201, created.text
    operator_id = int(created.json()["id"])
    area = await client.post(
        "/api/v1/areas",
        json={
            "code": f"{code}-area",
            "name": f"Area of {code}",
            "operator_id": operator_id,
            "timezone": timezone,
        },
    )
    assert area.status_code == 201, area.text
    area_id = int(area.json()["id"])
    for station_id in station_ids:
        station = await client.post("/api/v1/stations", json={"id": station_id, "area_id": area_id})
        assert station.status_code == 201, station.text
    return Site(operator_id, area_id)


async def make_token(client: httpx.AsyncClient, uid: str) -> None:
    response = await client.post("/api/v1/id-tokens", json={"uid": uid})
    assert response.status_code == 201, response.text


async def make_tariff(client: httpx.AsyncClient, body: dict[str, Any], **target: Any) -> int:
    """Create a tariff and, when a target is given, assign it there; answers our tariff id."""
    created = await client.post("/api/v1/tariffs", json=body)
    assert created.status_code == 201, created.text
    tariff_id = int(created.json()["id"])
    if target:
        assigned = await client.post("/api/v1/tariff-assignments", json={"tariff_id": tariff_id, **target})
        assert assigned.status_code == 201, assigned.text
    return tariff_id


def expect(app: App, event_type: type[E], **match: Any) -> asyncio.Future[E]:
    """A future for the next event of that type whose fields equal `match` (subscribe before acting)."""
    future: asyncio.Future[E] = asyncio.get_running_loop().create_future()

    async def handler(event: E) -> None:
        if not future.done() and all(getattr(event, k) == v for k, v in match.items()):
            future.set_result(event)

    app.bus.subscribe(event_type, handler, name=f"test-expect-{event_type.__name__}")
    return future


async def settled(future: asyncio.Future[E]) -> E:
    return await asyncio.wait_for(future, WAIT)


class BillingCharger(TestCharger):
    """The test charger, which also tells the test when it is asked to stop a transaction."""

    def __init__(self, station_id: str, ws: Any) -> None:
        super().__init__(station_id, ws)
        self.stop_requested: asyncio.Queue[int] = asyncio.Queue()

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        self._got("RemoteStopTransaction", transaction_id=transaction_id)
        self.stop_requested.put_nowait(transaction_id)
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)


def register(at: datetime, wh: int, **extra: Any) -> dict[str, Any]:
    """A MeterValue with the energy register in Wh (and any other sampled values given)."""
    values: list[dict[str, Any]] = [
        {
            "value": str(wh),
            "unit": "Wh",
            "measurand": "Energy.Active.Import.Register",
            "context": "Sample.Periodic",
        }
    ]
    values.extend(extra.get("more", ()))
    return {"timestamp": ts(at), "sampledValue": values}


async def start(
    charger: TestCharger, *, id_tag: str, at: datetime, meter_start: int, connector_id: int = 1
) -> int:
    answer = await charger.call(
        call.StartTransaction(
            connector_id=connector_id, id_tag=id_tag, meter_start=meter_start, timestamp=ts(at)
        )
    )
    return int(answer.transaction_id)


async def meter(charger: TestCharger, tx: int, *values: dict[str, Any], connector_id: int = 1) -> None:
    await charger.call(
        call.MeterValues(connector_id=connector_id, transaction_id=tx, meter_value=list(values))
    )


async def status(charger: TestCharger, status: str, at: datetime, connector_id: int = 1) -> None:
    await charger.call(
        call.StatusNotification(
            connector_id=connector_id, error_code="NoError", status=status, timestamp=ts(at)
        )
    )


async def stop(
    charger: TestCharger, tx: int, *, at: datetime, meter_stop: int, reason: str = "EVDisconnected"
) -> None:
    await charger.call(
        call.StopTransaction(meter_stop=meter_stop, timestamp=ts(at), transaction_id=tx, reason=reason)
    )


async def charge(
    app: App,
    charger: TestCharger,
    *,
    id_tag: str,
    start_at: datetime,
    meter_start: int,
    readings: Sequence[tuple[datetime, int]],
    stop_at: datetime,
    meter_stop: int,
    connector_id: int = 1,
) -> tuple[int, Event]:
    """A whole session; answers its transaction id and the CdrCreated or SessionHeld that settled it."""
    from voltbridge.billing import CdrCreated, SessionHeld

    tx = await start(charger, id_tag=id_tag, at=start_at, meter_start=meter_start, connector_id=connector_id)
    for at, wh in readings:
        await meter(charger, tx, register(at, wh), connector_id=connector_id)
    issued: asyncio.Future[Event] = expect(app, CdrCreated, transaction_id=tx)
    held: asyncio.Future[Event] = expect(app, SessionHeld, transaction_id=tx)
    await stop(charger, tx, at=stop_at, meter_stop=meter_stop)
    done, _ = await asyncio.wait({issued, held}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
    assert done, f"transaction {tx} was neither billed nor held"
    return tx, done.pop().result()

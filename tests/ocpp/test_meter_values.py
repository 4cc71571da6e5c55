"""MeterValues from the 1.6 handler to the database: rows as the ORM reads them, the register, events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import select

from voltbridge.bus import LocalBus
from voltbridge.core.authorization import AuthorizationService
from voltbridge.core.clock import SystemClock
from voltbridge.core.events import MeterValuesReceived
from voltbridge.core.metering import REGISTER
from voltbridge.core.stations.service import StationService, UnknownStationPolicy
from voltbridge.core.tokens.service import IdTagInfo, TokenService
from voltbridge.core.transactions.meter_writer import MeterWriter
from voltbridge.core.transactions.service import StartRequest, TransactionService
from voltbridge.ocpp.connection import Connection
from voltbridge.ocpp.services import GatewayServices
from voltbridge.ocpp.v16.handlers import Ocpp16Handlers
from voltbridge.store import Database
from voltbridge.store.models import MeterValue, StationEvent, Transaction

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
SIGNED = "OCMF|{...}|{SD:3045...}"


def ts(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class _Station:
    """What the handlers read from a connection."""

    station_id: str


@dataclass
class Path:
    db: Database
    bus: LocalBus
    writer: MeterWriter
    handlers: Ocpp16Handlers
    conn: Connection
    tx: int
    events: list[MeterValuesReceived]

    async def send(self, p: dict[str, Any]) -> None:
        assert await self.handlers.meter_values(self.conn, p) == {}
        await self.bus.drain()

    async def rows(self) -> list[tuple[object, ...]]:
        async with self.db.read() as s:
            found = await s.scalars(select(MeterValue).order_by(MeterValue.id))
            return [row(r) for r in found]

    async def register(self) -> tuple[int | None, datetime | None]:
        async with self.db.read() as s:
            tx = await s.get(Transaction, self.tx)
            assert tx is not None
            return tx.last_meter_wh, tx.last_meter_at


def row(r: MeterValue) -> tuple[object, ...]:
    return (r.station_id, r.connector_id, r.transaction_id, r.at, r.measurand, r.phase, r.location,
            r.context, r.unit, r.value, r.raw, r.signed)  # fmt: skip


@pytest.fixture
async def path(database_url: str) -> AsyncIterator[Path]:
    db = Database(database_url)
    bus = LocalBus()
    clock = SystemClock()
    writer = MeterWriter(db)
    stations = StationService(
        db,
        bus,
        clock,
        unknown_stations=UnknownStationPolicy.ACCEPT,
        heartbeat_interval=300,
        pending_interval=60,
    )
    transactions = TransactionService(db, bus, clock, writer)
    authorization = AuthorizationService(TokenService(db, clock), authority_timeout=1.0)
    events: list[MeterValuesReceived] = []

    async def seen(event: MeterValuesReceived) -> None:
        events.append(event)

    bus.subscribe(MeterValuesReceived, seen, name="test")
    await bus.start()
    await writer.start()

    async def accepted() -> IdTagInfo:
        return IdTagInfo("Accepted")

    await stations.register("CP1")
    started = await transactions.start(StartRequest("CP1", 1, "TAG", 100, T0), accepted)
    handlers = Ocpp16Handlers(GatewayServices(stations, transactions, authorization, clock))
    yield Path(db, bus, writer, handlers, cast(Connection, _Station("CP1")), started.transaction.id, events)
    await writer.close()
    await bus.close()
    await db.close()


def meter_values(tx: int | None, *entries: tuple[datetime | str, list[dict[str, Any]]]) -> dict[str, Any]:
    p: dict[str, Any] = {
        "connectorId": 2,
        "meterValue": [
            {"timestamp": at if isinstance(at, str) else ts(at), "sampledValue": svs} for at, svs in entries
        ],
    }
    if tx is not None:
        p["transactionId"] = tx
    return p


async def test_values_are_stored_as_sent_in_their_order_with_units_normalised(path: Path) -> None:
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    plain = [
        {"value": "1.5", "measurand": REGISTER, "unit": "kWh", "context": "Sample.Periodic"},
        {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
        {"value": "31.3", "measurand": "Current.Import"},
    ]
    await path.send(meter_values(path.tx, (t1, plain)))
    mixed = [
        {"value": "16.1", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "2000", "location": "Outlet"},
        {"value": SIGNED, "format": "SignedData", "context": "Transaction.End"},
        {"value": "n/a", "measurand": "Voltage", "unit": "V"},
        {"value": "55", "measurand": "SoC", "unit": "Percent", "location": "EV"},
    ]
    await path.send(meter_values(path.tx, (t1 + timedelta(seconds=1), plain[:1]), (t2, mixed)))
    tx = path.tx
    t1b = t1 + timedelta(seconds=1)
    assert await path.rows() == [
        ("CP1", 2, tx, t1, REGISTER, None, None, "Sample.Periodic", "Wh", 1500.0, "1.5", None),
        ("CP1", 2, tx, t1, "Power.Active.Import", None, None, None, "W", 7200.0, "7.2", None),
        ("CP1", 2, tx, t1, "Current.Import", None, None, None, None, 31.3, "31.3", None),
        ("CP1", 2, tx, t1b, REGISTER, None, None, "Sample.Periodic", "Wh", 1500.0, "1.5", None),
        ("CP1", 2, tx, t2, "Current.Import", "L1", None, None, "A", 16.1, "16.1", None),
        ("CP1", 2, tx, t2, REGISTER, None, "Outlet", None, "Wh", 2000.0, "2000", None),
        ("CP1", 2, tx, t2, REGISTER, None, None, "Transaction.End", "Wh", None, SIGNED,
         {"format": "SignedData", "data": SIGNED}),
        ("CP1", 2, tx, t2, "Voltage", None, None, None, "V", None, "n/a", None),
        ("CP1", 2, tx, t2, "SoC", None, "EV", None, "Percent", 55.0, "55", None),
    ]  # fmt: skip
    assert await path.register() == (2000, t2)
    assert [(e.station_id, e.connector_id, e.transaction_id, e.samples, e.last_register_wh, e.at)
            for e in path.events] == [("CP1", 2, tx, 3, 1500, t1), ("CP1", 2, tx, 6, 2000, t2)]  # fmt: skip
    assert (path.writer.rows_written, path.writer.batches) == (9, 2)
    # The stored times are the ORM's own: a query by time finds the row.
    async with path.db.read() as s:
        found = await s.scalars(select(MeterValue.raw).where(MeterValue.at == t1b))
        assert found.all() == ["1.5"]


async def test_the_register_moves_forward_only(path: Path) -> None:
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    assert await path.register() == (100, T0)
    await path.send(meter_values(path.tx, (t2, [{"value": "500"}])))
    assert await path.register() == (500, t2)
    await path.send(meter_values(path.tx, (t1, [{"value": "300"}])))  # late: an older reading
    assert await path.register() == (500, t2)
    await path.send(meter_values(path.tx, (t2, [{"value": "7200", "measurand": "Power.Active.Import"}])))
    assert await path.register() == (500, t2)
    await path.send(meter_values(path.tx, (t2, [{"value": "0.6", "unit": "kWh"}])))  # same time: replaces
    assert await path.register() == (600, t2)
    assert [e.last_register_wh for e in path.events] == [500, 300, None, 600]
    # Two messages committed together: the newer reading wins whatever their order.
    t3, t4 = T0 + timedelta(minutes=3), T0 + timedelta(minutes=4)
    await asyncio.gather(
        path.handlers.meter_values(path.conn, meter_values(path.tx, (t4, [{"value": "900"}]))),
        path.handlers.meter_values(path.conn, meter_values(path.tx, (t3, [{"value": "800"}]))),
    )
    assert await path.register() == (900, t4)


async def test_a_register_no_meter_can_read_is_kept_and_fails_no_other_message(path: Path) -> None:
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    unreadable = ["NaN", "inf", "12345678901234567890"]
    # Committed in one batch with a good reading: before, one of these failed every message in it.
    await asyncio.gather(
        *(
            path.handlers.meter_values(path.conn, meter_values(path.tx, (t2, [{"value": v}])))
            for v in unreadable
        ),
        path.handlers.meter_values(path.conn, meter_values(path.tx, (t1, [{"value": "400"}]))),
    )
    assert sorted(str(r[10]) for r in await path.rows()) == sorted([*unreadable, "400"])
    assert await path.register() == (400, t1)


async def test_values_without_a_transaction_are_kept_and_move_no_register(path: Path) -> None:
    await path.send(meter_values(None, (T0 + timedelta(minutes=1), [{"value": "700"}])))
    assert await path.rows() == [
        ("CP1", 2, None, T0 + timedelta(minutes=1), REGISTER, None, None, None, "Wh", 700.0, "700", None)
    ]
    assert await path.register() == (100, T0)
    assert [(e.transaction_id, e.last_register_wh) for e in path.events] == [(None, 700)]


async def test_a_timestamp_without_offset_is_read_as_utc_and_flagged(path: Path) -> None:
    await path.send(meter_values(path.tx, ("2025-06-02T08:05:00", [{"value": "150"}])))
    assert await path.register() == (150, T0 + timedelta(minutes=5))
    async with path.db.read() as s:
        flagged = await s.scalars(select(StationEvent).where(StationEvent.kind == "timestamp_without_offset"))
        assert [(e.station_id, e.data) for e in flagged] == [("CP1", {"message": "MeterValues"})]


async def test_transaction_data_of_a_stop_is_stored_with_the_transaction(path: Path) -> None:
    stop = T0 + timedelta(hours=1)
    answer = await path.handlers.stop_transaction(
        path.conn,
        {
            "transactionId": path.tx,
            "meterStop": 2500,
            "timestamp": ts(stop),
            "transactionData": [
                {
                    "timestamp": ts(stop),
                    "sampledValue": [{"value": "2.5", "unit": "kWh", "context": "Transaction.End"}],
                }
            ],
        },
    )
    assert answer == {}
    assert await path.rows() == [
        ("CP1", 1, path.tx, stop, REGISTER, None, None, "Transaction.End", "Wh", 2500.0, "2.5", None)
    ]
    assert await path.register() == (2500, stop)

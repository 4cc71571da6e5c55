"""The two central systems the throughput benchmark compares, each run in its own process.

    python bench/_servers.py voltbridge DB_PATH   # voltbridge on SQLite, HTTP off
    python bench/_servers.py minimal              # the `ocpp` package's own ChargePoint routing

Each prints `PORT <n>` when it listens and runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._support import until_terminated, use_uvloop


async def serve_voltbridge(db_path: str) -> None:
    from voltbridge.app import App
    from voltbridge.config import Settings

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db_path}",
        host="127.0.0.1",
        ocpp_port=0,
        http_port=0,
        unknown_stations="accept",
        ping_interval=None,
    )
    app = App.build(settings)
    ports = await app.start(http=False)
    print(f"PORT {ports.ocpp}", flush=True)
    await until_terminated()
    await app.stop()


class MinimalChargePoint(ChargePoint):  # type: ignore[misc]
    """How a Python user starts a central system with the `ocpp` package: routing, no storage."""

    transaction_ids = 0

    @on(Action.boot_notification)
    async def on_boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=datetime.now(UTC).isoformat(), interval=300, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=datetime.now(UTC).isoformat())

    @on(Action.start_transaction)
    async def on_start(self, **_: Any) -> call_result.StartTransaction:
        MinimalChargePoint.transaction_ids += 1
        return call_result.StartTransaction(
            transaction_id=MinimalChargePoint.transaction_ids,
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action.meter_values)
    async def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()


async def serve_minimal() -> None:
    async def handler(ws: Any) -> None:
        station_id = ws.request.path.rsplit("/", 1)[-1]
        with contextlib.suppress(websockets.ConnectionClosed):  # the load ends by closing its sockets
            await MinimalChargePoint(station_id, ws).start()

    async with websockets.serve(
        handler, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")], compression=None, ping_interval=None
    ) as server:
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await until_terminated()


def main() -> None:
    use_uvloop()
    kind = sys.argv[1]
    if kind == "voltbridge":
        asyncio.run(serve_voltbridge(sys.argv[2]))
    elif kind == "minimal":
        asyncio.run(serve_minimal())
    else:
        raise SystemExit(f"unknown server {kind!r}")


if __name__ == "__main__":
    main()

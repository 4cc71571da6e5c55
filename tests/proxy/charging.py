"""A charging session as a 1.6 charger reports it, for the multiplexer's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.routing import on
from ocpp.v16 import call, call_result

from tests.chargers import TestCharger

START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)


def ts(minutes: float = 0) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def start(
    cp: TestCharger, id_tag: str = "CARD1", *, connector_id: int = 1, meter_start: int = 0
) -> Any:
    return await cp.call(
        call.StartTransaction(
            connector_id=connector_id, id_tag=id_tag, meter_start=meter_start, timestamp=ts()
        )
    )


async def meter(
    cp: TestCharger, transaction_id: int, wh: int, minutes: float, *, connector_id: int = 1
) -> None:
    sample = {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    await cp.call(
        call.MeterValues(
            connector_id=connector_id,
            transaction_id=transaction_id,
            meter_value=[{"timestamp": ts(minutes), "sampledValue": [sample]}],
        )
    )


async def stop(cp: TestCharger, transaction_id: int, wh: int, minutes: float) -> None:
    await cp.call(call.StopTransaction(meter_stop=wh, timestamp=ts(minutes), transaction_id=transaction_id))


class ProfileCharger(TestCharger):
    """Also takes charging profiles."""

    @on("SetChargingProfile")
    async def on_set_charging_profile(self, **kw: Any) -> call_result.SetChargingProfile:
        self._got("SetChargingProfile", **kw)
        return call_result.SetChargingProfile(status="Accepted")

"""A station's metering facts: MID meter, bidirectional, home charger and owner, grid connection EAN.

They decide which sessions count for the Dutch ERE (a MID meter, not bidirectional, per EAN) and
for home-charging reimbursement (home chargers, per owner or employee). Each CDR copies them as
they were when it was issued, so changing a station later does not rewrite its history.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, TypedDict

from voltbridge.core.clock import Clock
from voltbridge.core.errors import InvalidInput, NotFound
from voltbridge.core.operators import audit
from voltbridge.core.operators.scope import Scope
from voltbridge.store import Database
from voltbridge.store.models import Station
from voltbridge.store.models.billing import StationMetering, set_station_metering, station_metering
from voltbridge.store.models.operators import Area

if TYPE_CHECKING:
    from voltbridge.core.users.service import Principal

_EAN = re.compile(r"^\d{18}$")


class MeteringFields(TypedDict, total=False):
    """The changeable metering facts; a key left out is unchanged."""

    mid_meter: bool
    mid_meter_serial: str | None
    mid_certificate: str | None
    bidirectional: bool
    home_charger: bool
    home_owner: str | None
    grid_ean: str | None


def check_ean(code: str) -> str:
    """The code if it is an 18-digit GS1 number (GSRN) with a valid check digit; InvalidInput otherwise.

    Dutch grid connections are identified by such an EAN code (871…). The check digit is the GS1
    mod-10 digit: weights 3 and 1 alternate from the rightmost data digit.
    """
    if not _EAN.match(code):
        raise InvalidInput(f"grid_ean {code!r} is not an 18-digit EAN code")
    digits = [int(c) for c in code]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    if (10 - total % 10) % 10 != digits[-1]:
        raise InvalidInput(f"grid_ean {code!r} has a wrong check digit")
    return code


class MeteringService:
    """Reads and changes stations' metering facts, in the caller's scope, with an audit entry."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def get(self, station_id: str, *, principal: Principal | None = None) -> StationMetering:
        """The station's metering facts (404 outside the caller's scope)."""
        async with self._db.read() as session:
            station = await session.get(Station, station_id)
            if station is None or not await Scope.of(principal).sees_station(session, station_id):
                raise NotFound(f"station {station_id!r} does not exist")
            return station_metering(station)

    async def update(
        self, station_id: str, fields: MeteringFields, *, actor: Principal | None = None
    ) -> StationMetering:
        """Change the station's metering facts."""
        if fields.get("grid_ean"):
            check_ean(str(fields["grid_ean"]))
        for name in ("mid_meter_serial", "mid_certificate", "home_owner"):
            value = fields.get(name)
            if isinstance(value, str) and not value.strip():
                fields[name] = None
        async with self._db.transaction() as session:
            station = await session.get(Station, station_id)
            if station is None or not await Scope.of(actor).sees_station(session, station_id):
                raise NotFound(f"station {station_id!r} does not exist")
            before = station_metering(station)
            after = replace(before, **fields)
            if after.home_charger is False and after.home_owner is not None and "home_owner" in fields:
                raise InvalidInput("home_owner needs home_charger: true")
            set_station_metering(station, after)
            old, new = audit.changes(_plain(before), _plain(after))
            if new:
                operator_id = None
                area_id = getattr(station, "area_id", None)
                if area_id is not None:
                    area = await session.get(Area, area_id)
                    operator_id = area.operator_id if area is not None else None
                audit.record(
                    session,
                    actor=actor,
                    at=self._clock.now(),
                    entity="station_metering",
                    entity_id=station_id,
                    action="update",
                    operator_id=operator_id,
                    before=old,
                    after=new,
                )
            return after


def _plain(m: StationMetering) -> dict[str, object]:
    return {
        "mid_meter": m.mid_meter,
        "mid_meter_serial": m.mid_meter_serial,
        "mid_certificate": m.mid_certificate,
        "bidirectional": m.bidirectional,
        "home_charger": m.home_charger,
        "home_owner": m.home_owner,
        "grid_ean": m.grid_ean,
    }

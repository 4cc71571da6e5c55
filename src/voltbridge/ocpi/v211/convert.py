"""2.2.1 objects down to 2.1.1, for a partner that only speaks 2.1.1."""

from __future__ import annotations

from typing import Any

from voltbridge.ocpi.v211 import models as v211
from voltbridge.ocpi.v221.locations import Location, ParkingType

_LOCATION_TYPE = {
    ParkingType.ON_STREET: v211.LocationType.ON_STREET,
    ParkingType.PARKING_GARAGE: v211.LocationType.PARKING_GARAGE,
    ParkingType.UNDERGROUND_GARAGE: v211.LocationType.UNDERGROUND_GARAGE,
    ParkingType.PARKING_LOT: v211.LocationType.PARKING_LOT,
}


def location_to_211(location: Location) -> dict[str, Any]:
    """A 2.2.1 Location as 2.1.1 shows it: `type`, no party fields, voltage/amperage, one tariff_id."""
    evses = []
    for evse in location.evses:
        connectors = [
            {
                "id": c.id,
                "standard": c.standard,
                "format": c.format,
                "power_type": c.power_type if c.power_type != "AC_2_PHASE" else "AC_1_PHASE",
                "voltage": c.max_voltage,
                "amperage": c.max_amperage,
                "tariff_id": c.tariff_ids[0] if c.tariff_ids else None,
                "terms_and_conditions": c.terms_and_conditions,
                "last_updated": c.last_updated,
            }
            for c in evse.connectors
        ]
        evses.append(
            {
                "uid": evse.uid,
                "evse_id": evse.evse_id,
                "status": evse.status,
                "capabilities": [
                    c
                    for c in evse.capabilities
                    if c
                    in (
                        "CHARGING_PROFILE_CAPABLE",
                        "CREDIT_CARD_PAYABLE",
                        "REMOTE_START_STOP_CAPABLE",
                        "RESERVABLE",
                        "RFID_READER",
                        "UNLOCK_CAPABLE",
                    )
                ],
                "connectors": connectors,
                "physical_reference": evse.physical_reference,
                "floor_level": evse.floor_level,
                "last_updated": evse.last_updated,
            }
        )
    parking = location.parking_type
    model = v211.Location.model_validate(
        {
            "id": location.id,
            "type": _LOCATION_TYPE.get(parking, v211.LocationType.UNKNOWN)
            if parking
            else v211.LocationType.UNKNOWN,
            "name": location.name,
            "address": location.address[:45],
            "city": location.city,
            "postal_code": location.postal_code or "",
            "country": location.country,
            "coordinates": location.coordinates.model_dump(),
            "evses": evses,
            "time_zone": location.time_zone,
            "last_updated": location.last_updated,
        }
    )
    return model.to_wire()

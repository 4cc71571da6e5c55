"""OCPI 2.1.1 objects: Credentials (flat, one role), version endpoints without roles, and Locations.

2.1.1 differs from 2.2.1 where it matters to us (OCPI-NOTES.md section 6): the Location has a
required `type`, no country_code/party_id/publish, an optional time_zone; a Connector has `voltage`,
`amperage` and a single `tariff_id`; strings are ASCII.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from voltbridge.ocpi.types import (
    URL,
    CiString2,
    CiString3,
    CiString36,
    CiString48,
    DateTime,
    DisplayText,
    OcpiModel,
    String3,
    String4,
    String10,
    String16,
    String45,
    String255,
)
from voltbridge.ocpi.v221.core import BusinessDetails, Image
from voltbridge.ocpi.v221.locations import (
    Capability,
    ConnectorFormat,
    ConnectorType,
    EnergyMix,
    Facility,
    GeoLocation,
    Hours,
    ParkingRestriction,
    PowerType,
    Status,
    StatusSchedule,
)


class Endpoint(OcpiModel):
    identifier: str
    url: URL


class VersionDetails(OcpiModel):
    version: str
    endpoints: list[Endpoint] = Field(min_length=1)


class Credentials(OcpiModel):
    token: str = Field(min_length=1, max_length=64)
    url: URL
    business_details: BusinessDetails
    party_id: CiString3 = Field(min_length=3)
    country_code: CiString2 = Field(min_length=2)


class LocationType(StrEnum):
    ON_STREET = "ON_STREET"
    PARKING_GARAGE = "PARKING_GARAGE"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class Connector(OcpiModel):
    id: CiString36 = Field(min_length=1)
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    voltage: int = Field(ge=0)
    amperage: int = Field(ge=0)
    tariff_id: CiString36 | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: CiString36 = Field(min_length=1)
    evse_id: CiString48 | None = None
    status: Status
    status_schedule: list[StatusSchedule] = []
    capabilities: list[Capability] = []
    connectors: list[Connector] = Field(min_length=1)
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] = []
    parking_restrictions: list[ParkingRestriction] = []
    images: list[Image] = []
    last_updated: DateTime


class Location(OcpiModel):
    id: CiString36 = Field(min_length=1)
    type: LocationType
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10
    country: String3 = Field(min_length=3)
    coordinates: GeoLocation
    evses: list[EVSE] = []
    directions: list[DisplayText] = []
    operator: BusinessDetails | None = None
    facilities: list[Facility] = []
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] = []
    energy_mix: EnergyMix | None = None
    last_updated: DateTime

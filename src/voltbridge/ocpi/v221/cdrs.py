"""OCPI 2.2.1 CDRs module objects."""

from __future__ import annotations

from pydantic import Field

from voltbridge.ocpi.types import (
    CiString2,
    CiString3,
    CiString32,
    CiString36,
    CiString39,
    CiString48,
    DateTime,
    Number,
    OcpiModel,
    Price,
    String3,
    String10,
    String20,
    String45,
    String255,
    String512,
    String5000,
)
from voltbridge.ocpi.v221.locations import ConnectorFormat, ConnectorType, GeoLocation, PowerType
from voltbridge.ocpi.v221.sessions import AuthMethod, CdrToken, ChargingPeriod
from voltbridge.ocpi.v221.tariffs import Tariff


class CdrLocation(OcpiModel):
    """The Location, EVSE and connector of a CDR, frozen as they were at session start."""

    id: CiString36 = Field(min_length=1)
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3 = Field(min_length=3)
    coordinates: GeoLocation
    evse_uid: CiString36
    evse_id: CiString48
    connector_id: CiString36
    connector_standard: ConnectorType
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(OcpiModel):
    nature: CiString32
    plain_data: String5000
    signed_data: String5000


class SignedData(OcpiModel):
    encoding_method: CiString36
    encoding_method_version: int | None = None
    public_key: String512 | None = None
    signed_values: list[SignedValue] = Field(min_length=1)
    url: String512 | None = None


class Cdr(OcpiModel):
    country_code: CiString2 = Field(min_length=2)
    party_id: CiString3 = Field(min_length=3)
    id: CiString39 = Field(min_length=1)
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString36 | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    cdr_location: CdrLocation
    meter_id: String255 | None = None
    currency: String3 = Field(min_length=3)
    tariffs: list[Tariff] = []
    charging_periods: list[ChargingPeriod] = Field(min_length=1)
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String255 | None = None
    invoice_reference_id: CiString39 | None = None
    credit: bool | None = None
    credit_reference_id: CiString39 | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime

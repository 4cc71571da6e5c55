"""Billing: tariffs and their versions, tariff assignments, running session costs, CDRs, session reviews.

Stations gain their metering facts here (MID meter, bidirectional, home charger, EAN of the grid
connection); migration 0004 adds the columns. They are attached to the `Station` mapping from this
module, as the operators' module does for `area_id`, so the stations model stays as its owners
wrote it; read and write them through `station_metering` and `set_station_metering`.

A CDR row is written once and never updated: a correction is a credit CDR plus a new CDR.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from voltbridge.store.base import Base, JSONType, UTCDateTime
from voltbridge.store.models.stations import Station

Money = Numeric(14, 4)


class TariffRecord(Base):
    """A tariff: our id, its OCPI id, the owning operator (None: the platform's) and the current version.

    `data` is the current version in the OCPI 2.2.1 Tariff shape (JSON, numbers as strings or ints).
    """

    __tablename__ = "tariffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ocpi_id: Mapped[str] = mapped_column(String(36), unique=True)
    operator_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("operators.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TariffVersion(Base):
    """Every version a tariff has had, as saved (the history behind `TariffRecord.data`)."""

    __tablename__ = "tariff_versions"

    tariff_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tariffs.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(255))


class TariffAssignment(Base):
    """A tariff for an area, a station or one connector, optionally only for a driver group.

    The driver group is the private network of `driver_group_operator_id`. `target` and `group_key`
    are derived keys ("station:CP1", "op:3" or "") that make one assignment per target and group
    unique on every engine (a unique constraint over nullable columns would not).
    """

    __tablename__ = "tariff_assignments"
    __table_args__ = (UniqueConstraint("target", "group_key", name="uq_tariff_assignments_target_group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(Integer, ForeignKey("tariffs.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("areas.id", ondelete="CASCADE"), index=True
    )
    station_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("stations.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int | None] = mapped_column(Integer)
    driver_group_operator_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("operators.id", ondelete="CASCADE")
    )
    target: Mapped[str] = mapped_column(String(100))
    group_key: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(255))


class SessionCost(Base):
    """A session's tariff snapshot (taken at its start) and its running cost.

    `tariff` is the OCPI JSON of the tariff in force when the session started (None: unpriced).
    The rating rules and the monetary limit are snapshotted too, so a session is rated by what held
    when it began. `final` is set when the session's CDR is issued: the cost then equals its total.
    """

    __tablename__ = "session_costs"

    transaction_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    tariff_pk: Mapped[int | None] = mapped_column(Integer)
    tariff_version: Mapped[int | None] = mapped_column(Integer)
    tariff_level: Mapped[str | None] = mapped_column(String(16))
    tariff: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    currency: Mapped[str | None] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(Integer)
    rate_idle: Mapped[bool] = mapped_column(Boolean)
    idle_after_s: Mapped[int] = mapped_column(Integer)
    limit_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    limit_currency: Mapped[str | None] = mapped_column(String(3))
    cost_excl_vat: Mapped[Decimal | None] = mapped_column(Money)
    cost_incl_vat: Mapped[Decimal | None] = mapped_column(Money)
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    limit_reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    limit_command_status: Mapped[str | None] = mapped_column(String(32))
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChargeDetailRecord(Base):
    """A CDR: what a session was and cost, fixed at issue. Never updated.

    `sequence` numbers the CDRs of one transaction (1: the first; a correction adds a credit CDR and a
    new CDR), so a second node issuing the same first CDR fails on the unique key instead of doubling
    it. Money of a credit CDR is negated; its energy is not. Station facts are copied as they were.
    """

    __tablename__ = "cdrs"
    __table_args__ = (
        UniqueConstraint("transaction_id", "sequence", name="uq_cdrs_transaction_sequence"),
        Index("ix_cdrs_operator_start", "operator_id", "start_at"),
        Index("ix_cdrs_station_start", "station_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(Integer, ForeignKey("transactions.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    credit: Mapped[bool] = mapped_column(Boolean)
    credit_reference_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("cdrs.id"))
    supersedes_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("cdrs.id"))
    station_id: Mapped[str] = mapped_column(String(64))
    connector_id: Mapped[int] = mapped_column(Integer)
    area_id: Mapped[int | None] = mapped_column(Integer)
    operator_id: Mapped[int | None] = mapped_column(Integer)
    id_tag: Mapped[str | None] = mapped_column(String(36))
    timezone: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stop_at: Mapped[datetime] = mapped_column(UTCDateTime)
    start_local: Mapped[str] = mapped_column(String(40))
    stop_local: Mapped[str] = mapped_column(String(40))
    meter_start_wh: Mapped[int | None] = mapped_column(BigInteger)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger)
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    charging_seconds: Mapped[int] = mapped_column(Integer)
    idle_seconds: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    total_excl_vat: Mapped[Decimal] = mapped_column(Money)
    total_incl_vat: Mapped[Decimal] = mapped_column(Money)
    totals: Mapped[dict[str, Any]] = mapped_column(JSONType)
    periods: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    tariff_pk: Mapped[int | None] = mapped_column(Integer)
    tariff: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    signed_data: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    flags: Mapped[list[str]] = mapped_column(JSONType)
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    remark: Mapped[str | None] = mapped_column(String(255))
    correction: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    mid_meter: Mapped[bool] = mapped_column(Boolean)
    mid_meter_serial: Mapped[str | None] = mapped_column(String(64))
    bidirectional: Mapped[bool] = mapped_column(Boolean)
    home_charger: Mapped[bool] = mapped_column(Boolean)
    home_owner: Mapped[str | None] = mapped_column(String(255))
    grid_ean: Mapped[str | None] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(255))


class SessionReview(Base):
    """A session held back from billing because validation flagged it, and what a reviewer decided.

    `reasons` is a list of {"code", "detail"}. `status` is pending, approved or corrected; `cdr_id`
    names the CDR the decision issued.
    """

    __tablename__ = "session_reviews"
    __table_args__ = (Index("ix_session_reviews_status", "status"),)

    transaction_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    station_id: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    correction: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cdr_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("cdrs.id"))


@dataclass(frozen=True, slots=True)
class StationMetering:
    """What a station's meter and place are: evidence for billing, ERE and reimbursement."""

    mid_meter: bool = False
    mid_meter_serial: str | None = None
    mid_certificate: str | None = None
    bidirectional: bool = False
    home_charger: bool = False
    home_owner: str | None = None
    grid_ean: str | None = None


def station_metering(station: Station) -> StationMetering:
    """The station's metering facts."""
    return StationMetering(
        mid_meter=station.mid_meter,
        mid_meter_serial=station.mid_meter_serial,
        mid_certificate=station.mid_certificate,
        bidirectional=station.bidirectional,
        home_charger=station.home_charger,
        home_owner=station.home_owner,
        grid_ean=station.grid_ean,
    )


def set_station_metering(station: Station, metering: StationMetering) -> None:
    """Write the station's metering facts."""
    station.mid_meter = metering.mid_meter
    station.mid_meter_serial = metering.mid_meter_serial
    station.mid_certificate = metering.mid_certificate
    station.bidirectional = metering.bidirectional
    station.home_charger = metering.home_charger
    station.home_owner = metering.home_owner
    station.grid_ean = metering.grid_ean

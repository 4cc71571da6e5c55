"""Stations, their connectors and what they reported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from voltbridge.store.base import Base, JSONType, UTCDateTime


class Station(Base):
    """A charger known to the platform (pre-registered or having knocked)."""

    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    ocpp_version: Mapped[str | None] = mapped_column(String(16))
    registration_status: Mapped[str] = mapped_column(String(16), default="Accepted")
    description: Mapped[str | None] = mapped_column(Text)
    lenient: Mapped[bool] = mapped_column(Boolean, default=False)
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_number: Mapped[str | None] = mapped_column(String(64))
    charge_box_serial_number: Mapped[str | None] = mapped_column(String(64))
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    iccid: Mapped[str | None] = mapped_column(String(64))
    imsi: Mapped[str | None] = mapped_column(String(64))
    meter_type: Mapped[str | None] = mapped_column(String(64))
    meter_serial_number: Mapped[str | None] = mapped_column(String(64))
    boot_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    booted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_node: Mapped[str | None] = mapped_column(String(128))
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Its place (migration 0003): the charging area, and whether it is public; an invisible station
    # serves only its operator's private network.
    area_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("areas.id"), index=True)
    visible: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Its metering facts (migration 0004), used to rate sessions and by the ERE and reimbursement
    # reports.
    mid_meter: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    mid_meter_serial: Mapped[str | None] = mapped_column(String(64))
    mid_certificate: Mapped[str | None] = mapped_column(String(128))
    bidirectional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    home_charger: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    home_owner: Mapped[str | None] = mapped_column(String(255))
    grid_ean: Mapped[str | None] = mapped_column(String(18))


class Connector(Base):
    """A connector's last reported status; connector 0 is the station itself."""

    __tablename__ = "connectors"

    station_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True
    )
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str] = mapped_column(String(64), default="NoError")
    info: Mapped[str | None] = mapped_column(String(255))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(255))
    status_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StationEvent(Base):
    """Something a station reported that has no table of its own, kept verbatim.

    Status history, DataTransfer, diagnostics and firmware progress, accepted quirks, unknown stops,
    timestamps that needed interpretation: nothing a charger sent is lost.
    """

    __tablename__ = "station_events"
    __table_args__ = (Index("ix_station_events_station_at", "station_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), ForeignKey("stations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)

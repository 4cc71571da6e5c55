"""Charging transactions and their meter values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from voltbridge.store.base import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class Transaction(Base):
    """A charging session as the charger reported it. Its id is the OCPP 1.6 transactionId."""

    __tablename__ = "transactions"
    __table_args__ = (
        Index("ix_transactions_station_status", "station_id", "status"),
        Index("ix_transactions_id_tag_status", "id_tag", "status"),
        Index("ix_transactions_started_at", "started_at"),
        # A StartTransaction retried after a lost answer must find its first record, never a twin.
        UniqueConstraint(
            "station_id", "connector_id", "started_at", "meter_start_wh", name="uq_transactions_start"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), ForeignKey("stations.id"))
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), default="active")
    auth_status: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meter_start_wh: Mapped[int | None] = mapped_column(BigInteger)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger)
    last_meter_wh: Mapped[int | None] = mapped_column(BigInteger)
    last_meter_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    stop_id_tag: Mapped[str | None] = mapped_column(String(36))
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    # A stop for a transaction we never saw start is kept as its own record.
    started_unseen: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MeterValue(Base):
    """One sampled value, as sent (raw) and normalised (value in `unit`: Wh, W, A, V, …)."""

    __tablename__ = "meter_values"
    __table_args__ = (
        Index("ix_meter_values_tx_at", "transaction_id", "at"),
        # Values outside a transaction only: a session's values are read through the index above,
        # and one leaf page per charger in every meter commit would halve the stream's write rate.
        Index(
            "ix_meter_values_station_untracked",
            "station_id",
            "at",
            sqlite_where=text("transaction_id IS NULL"),
            postgresql_where=text("transaction_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64))
    connector_id: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    measurand: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str | None] = mapped_column(String(8))
    location: Mapped[str | None] = mapped_column(String(16))
    context: Mapped[str | None] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    raw: Mapped[str] = mapped_column(String(2500))
    signed: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

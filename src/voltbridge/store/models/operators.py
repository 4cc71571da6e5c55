"""Operators, charging areas, drivers, private-network memberships, commission settings, the audit log.

Stations gain two columns here (`area_id`, `visible`) and users a foreign key to operators; migration
0003 adds them. The two station columns are attached to the `Station` mapping from this module so the
stations table model stays as its owners wrote it; read and write them with the helpers below.
"""

from __future__ import annotations

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


class Operator(Base):
    """A business that owns chargers the platform manages (a hotel, a restaurant chain, a car park)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    organisation_name: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(128))
    zip: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Session rating: below these a session is not billable; idle time rated or not.
    rating_min_duration_s: Mapped[int] = mapped_column(Integer, default=0)
    rating_min_energy_wh: Mapped[int] = mapped_column(Integer, default=0)
    rating_rate_idle: Mapped[bool] = mapped_column(Boolean, default=False)
    # Idle sessions: no energy flow for this long is idle; idle this long stops being tracked.
    idle_after_minutes: Mapped[int | None] = mapped_column(Integer)
    idle_stop_tracking_after_minutes: Mapped[int | None] = mapped_column(Integer)
    energy_step_delta_wh: Mapped[int | None] = mapped_column(Integer)
    security_key_hash: Mapped[str | None] = mapped_column(String(64))
    security_key_prefix: Mapped[str | None] = mapped_column(String(16))
    security_key_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_limit_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    session_limit_currency: Mapped[str | None] = mapped_column(String(3))
    # id token group ids (parent idTags) accepted on invisible stations besides the members.
    private_network_groups: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Area(Base):
    """A charging area: stations at one place on one grid connection, optionally nested and owned."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    operator_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("operators.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("areas.id"), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(128))
    zip: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(64))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    grid_limit: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    grid_limit_unit: Mapped[str | None] = mapped_column(String(4))  # "A" (per phase) or "kW"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Driver(Base):
    """A customer who charges with one or more id tokens."""

    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DriverToken(Base):
    """Which driver holds an id token (a token has at most one holder)."""

    __tablename__ = "driver_tokens"

    id_token_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("id_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    driver_id: Mapped[int] = mapped_column(Integer, ForeignKey("drivers.id", ondelete="CASCADE"), index=True)


class NetworkMember(Base):
    """An id token admitted to an operator's private network (its invisible stations)."""

    __tablename__ = "network_members"
    __table_args__ = (
        UniqueConstraint("operator_id", "id_token_id", name="uq_network_members_operator_token"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(Integer, ForeignKey("operators.id"))
    id_token_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("id_tokens.id", ondelete="CASCADE"), index=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    granted_by: Mapped[str | None] = mapped_column(String(255))


class CommissionSettings(Base):
    """What an operator's sessions earn and how the revenue is shared (one row per operator)."""

    __tablename__ = "commission_settings"

    operator_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    price_per_kwh: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    price_per_session: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    operator_share_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One change: who made it, when, to what, and the changed fields before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(255))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    operator_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(Text)

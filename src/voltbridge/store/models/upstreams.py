"""The multiplexer's tables: upstream backoffices per station, their durable outbox and id maps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from voltbridge.store.base import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class Upstream(Base):
    """A third-party backoffice that sees one station as if the charger were connected to it."""

    __tablename__ = "upstreams"
    __table_args__ = (
        Index("ix_upstreams_station", "station_id"),
        # At most one Billing upstream per station, also when two requests race past the service's check.
        Index(
            "uq_upstreams_station_billing",
            "station_id",
            unique=True,
            sqlite_where=text("role = 'billing'"),
            postgresql_where=text("role = 'billing'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), ForeignKey("stations.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(2048))
    role: Mapped[str] = mapped_column(String(16))
    # Sent as HTTP Basic on the leg, so it is kept as given (it is the upstream's secret, not ours to hash).
    password: Mapped[str | None] = mapped_column(String(255))
    client_cert: Mapped[str | None] = mapped_column(Text)
    client_key: Mapped[str | None] = mapped_column(Text)
    ca_cert: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UpstreamOutboxEntry(Base):
    """A billing-relevant charger message not yet answered by one upstream; delivered in `id` order."""

    __tablename__ = "upstream_outbox"
    __table_args__ = (Index("ix_upstream_outbox_upstream_id", "upstream_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upstream_id: Mapped[int] = mapped_column(Integer, ForeignKey("upstreams.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    # The charger's payload as it came, with our transactionId; rewritten for the upstream when sent.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UpstreamTransaction(Base):
    """Our transactionId and the one an upstream gave the same transaction in its StartTransaction answer."""

    __tablename__ = "upstream_transactions"
    __table_args__ = (Index("ix_upstream_transactions_theirs", "upstream_id", "their_transaction_id"),)

    upstream_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("upstreams.id", ondelete="CASCADE"), primary_key=True
    )
    transaction_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    their_transaction_id: Mapped[int] = mapped_column(BigInteger)  # some backoffices use large ids
    # False once the upstream has answered the StopTransaction: the ids are then no longer in use.
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

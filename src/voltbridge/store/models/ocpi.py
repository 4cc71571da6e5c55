"""OCPI roaming: partners, their tokens, sessions and CDRs as sent, commands, the push outbox, the audit log.

CiString ids are compared without case (OCPI types): where we look a partner's id up, a folded copy
(`*_key`, lower case) is stored beside the value as given, and uniqueness is on the folded copy.
Credentials tokens are stored as given, not hashed: GET /credentials must return them (ocpi/ocpi#394).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from voltbridge.store.base import Base, JSONType, UTCDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")


class OcpiPartner(Base):
    """A platform we roam with (an eMSP or a hub), and the credentials in both directions.

    `token_incoming` is what the partner sends us (we issued it: token A before registration, then the
    token we handed over in the credentials exchange); `token_outgoing` is what we send (they issued
    it). During a rotation the previous incoming token stays valid until the exchange succeeded.
    """

    __tablename__ = "ocpi_partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # pending | registered | suspended | unregistered
    token_a: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_incoming: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_incoming_previous: Mapped[str | None] = mapped_column(String(64))
    token_outgoing: Mapped[str | None] = mapped_column(String(64))
    token_encoding: Mapped[str] = mapped_column(String(8), default="auto")  # base64 | plain | auto
    versions_url: Mapped[str | None] = mapped_column(String(2048))
    version: Mapped[str | None] = mapped_column(String(8))
    endpoints: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    our_party: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OcpiToken(Base):
    """A Token an eMSP pushed to us (the Tokens receiver cache), keyed by (country, party, uid, type)."""

    __tablename__ = "ocpi_tokens"
    __table_args__ = (
        UniqueConstraint("country_code_key", "party_id_key", "uid_key", "type", name="uq_ocpi_tokens_key"),
        Index("ix_ocpi_tokens_uid_key", "uid_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, ForeignKey("ocpi_partners.id", ondelete="CASCADE"))
    country_code_key: Mapped[str] = mapped_column(String(2))
    party_id_key: Mapped[str] = mapped_column(String(3))
    uid_key: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(16))
    valid: Mapped[bool] = mapped_column(Boolean)
    whitelist: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)


class OcpiSession(Base):
    """The OCPI view of one of our transactions: whose token, how it was authorized, what was pushed."""

    __tablename__ = "ocpi_sessions"
    __table_args__ = (Index("ix_ocpi_sessions_last_updated", "last_updated", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    transaction_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    partner_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ocpi_partners.id", ondelete="SET NULL")
    )
    station_id: Mapped[str] = mapped_column(String(64))
    connector_id: Mapped[int] = mapped_column(Integer)
    cdr_token: Mapped[dict[str, Any]] = mapped_column(JSONType)
    auth_method: Mapped[str] = mapped_column(String(16))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the Session as last built
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OcpiPendingStart(Base):
    """A START_SESSION or an authorization awaiting its transaction: who asked and with which token."""

    __tablename__ = "ocpi_pending_starts"
    __table_args__ = (Index("ix_ocpi_pending_starts_station", "station_id", "id_tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, ForeignKey("ocpi_partners.id", ondelete="CASCADE"))
    station_id: Mapped[str] = mapped_column(String(64))
    connector_id: Mapped[int | None] = mapped_column(Integer)
    id_tag: Mapped[str] = mapped_column(String(36))
    cdr_token: Mapped[dict[str, Any]] = mapped_column(JSONType)
    auth_method: Mapped[str] = mapped_column(String(16))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OcpiCdr(Base):
    """A CDR as we publish it (never changed; corrections are credit CDRs)."""

    __tablename__ = "ocpi_cdrs"
    __table_args__ = (Index("ix_ocpi_cdrs_last_updated", "last_updated", "id"),)

    id: Mapped[str] = mapped_column(String(39), primary_key=True)
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    partner_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ocpi_partners.id", ondelete="SET NULL")
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    partner_location: Mapped[str | None] = mapped_column(String(2048))  # their URL of it (Location header)
    push_status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|accepted|rejected
    push_error: Mapped[str | None] = mapped_column(Text)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)


class OcpiReservation(Base):
    """An OCPI reservation and the integer OCPP reservationId (this row's id) that carries it."""

    __tablename__ = "ocpi_reservations"
    __table_args__ = (UniqueConstraint("partner_id", "reservation_key", name="uq_ocpi_reservations_partner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, ForeignKey("ocpi_partners.id", ondelete="CASCADE"))
    reservation_key: Mapped[str] = mapped_column(String(36))
    station_id: Mapped[str] = mapped_column(String(64))
    connector_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OcpiCommand(Base):
    """A command a partner sent us, the answer we gave and the result we POSTed to its response_url."""

    __tablename__ = "ocpi_commands"
    __table_args__ = (Index("ix_ocpi_commands_partner", "partner_id", "created_at"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, ForeignKey("ocpi_partners.id", ondelete="CASCADE"))
    command: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    response: Mapped[str] = mapped_column(String(24))
    result: Mapped[str | None] = mapped_column(String(24))
    result_delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OcpiOutboxItem(Base):
    """One push to one partner, kept until delivered (or refused, for a human to look at).

    `object_key` names the object (`locations/L1/E1`); a newer push for the same key supersedes an
    undelivered older one, so a backlog never replays stale states in the wrong order.
    """

    __tablename__ = "ocpi_outbox"
    __table_args__ = (
        Index("ix_ocpi_outbox_due", "status", "next_attempt_at"),
        Index("ix_ocpi_outbox_key", "partner_id", "object_key", "status"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, ForeignKey("ocpi_partners.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    body: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    object_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # pending | done | rejected | superseded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    ocpi_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OcpiAuditEntry(Base):
    """One OCPI HTTP exchange, in either direction."""

    __tablename__ = "ocpi_audit"
    __table_args__ = (Index("ix_ocpi_audit_partner_at", "partner_id", "at"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    module: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(String(2048))
    request_id: Mapped[str | None] = mapped_column(String(64))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    http_status: Mapped[int | None] = mapped_column(Integer)
    ocpi_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class OcpiClientInfo(Base):
    """A party a hub told us about (HubClientInfo receiver)."""

    __tablename__ = "ocpi_client_info"
    __table_args__ = (
        UniqueConstraint("partner_id", "country_code_key", "party_id_key", name="uq_ocpi_client_info_party"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, ForeignKey("ocpi_partners.id", ondelete="CASCADE"))
    country_code_key: Mapped[str] = mapped_column(String(2))
    party_id_key: Mapped[str] = mapped_column(String(3))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)

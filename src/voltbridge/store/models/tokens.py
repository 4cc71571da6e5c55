"""Id tokens (RFID cards, app tokens) that may start sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from voltbridge.store.base import Base, UTCDateTime


class IdToken(Base):
    """An idTag the platform knows, with its authorization status."""

    __tablename__ = "id_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="Accepted")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    group_id: Mapped[str | None] = mapped_column(String(36))
    # None: no limit. New tokens get 1 from TokenService (not a column default, which would hide None).
    max_concurrent_tx: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""ocpi: partners, token cache, sessions, CDRs, reservations, commands, push outbox, audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 00:30:00

Written by hand: it creates only the OCPI tables (store/models/ocpi.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voltbridge.store.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = voltbridge.store.base.UTCDateTime
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.JSON:
    return sa.JSON()


def _partner_fk(ondelete: str = "CASCADE") -> sa.ForeignKey:
    return sa.ForeignKey("ocpi_partners.id", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "ocpi_partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_a", sa.String(length=64), nullable=True),
        sa.Column("token_incoming", sa.String(length=64), nullable=True),
        sa.Column("token_incoming_previous", sa.String(length=64), nullable=True),
        sa.Column("token_outgoing", sa.String(length=64), nullable=True),
        sa.Column("token_encoding", sa.String(length=8), nullable=False),
        sa.Column("versions_url", sa.String(length=2048), nullable=True),
        sa.Column("version", sa.String(length=8), nullable=True),
        sa.Column("endpoints", _json(), nullable=False),
        sa.Column("roles", _json(), nullable=False),
        sa.Column("our_party", _json(), nullable=True),
        sa.Column("registered_at", UTC(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_partners")),
        sa.UniqueConstraint("token_a", name=op.f("uq_ocpi_partners_token_a")),
        sa.UniqueConstraint("token_incoming", name=op.f("uq_ocpi_partners_token_incoming")),
    )
    op.create_table(
        "ocpi_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), _partner_fk(), nullable=False),
        sa.Column("country_code_key", sa.String(length=2), nullable=False),
        sa.Column("party_id_key", sa.String(length=3), nullable=False),
        sa.Column("uid_key", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("whitelist", sa.String(length=16), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("last_updated", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_tokens")),
        sa.UniqueConstraint("country_code_key", "party_id_key", "uid_key", "type", name="uq_ocpi_tokens_key"),
    )
    op.create_index("ix_ocpi_tokens_uid_key", "ocpi_tokens", ["uid_key"])
    op.create_table(
        "ocpi_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("partner_id", sa.Integer(), _partner_fk("SET NULL"), nullable=True),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("cdr_token", _json(), nullable=False),
        sa.Column("auth_method", sa.String(length=16), nullable=False),
        sa.Column("authorization_reference", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("last_updated", UTC(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_sessions")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_ocpi_sessions_transaction_id")),
    )
    op.create_index("ix_ocpi_sessions_last_updated", "ocpi_sessions", ["last_updated", "id"])
    op.create_table(
        "ocpi_pending_starts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), _partner_fk(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("id_tag", sa.String(length=36), nullable=False),
        sa.Column("cdr_token", _json(), nullable=False),
        sa.Column("auth_method", sa.String(length=16), nullable=False),
        sa.Column("authorization_reference", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_pending_starts")),
    )
    op.create_index("ix_ocpi_pending_starts_station", "ocpi_pending_starts", ["station_id", "id_tag"])
    op.create_table(
        "ocpi_cdrs",
        sa.Column("id", sa.String(length=39), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("partner_id", sa.Integer(), _partner_fk("SET NULL"), nullable=True),
        sa.Column("data", _json(), nullable=False),
        sa.Column("partner_location", sa.String(length=2048), nullable=True),
        sa.Column("push_status", sa.String(length=16), nullable=False),
        sa.Column("push_error", sa.Text(), nullable=True),
        sa.Column("last_updated", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_cdrs")),
    )
    op.create_index("ix_ocpi_cdrs_last_updated", "ocpi_cdrs", ["last_updated", "id"])
    op.create_table(
        "ocpi_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), _partner_fk(), nullable=False),
        sa.Column("reservation_key", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_reservations")),
        sa.UniqueConstraint("partner_id", "reservation_key", name="uq_ocpi_reservations_partner"),
    )
    op.create_table(
        "ocpi_commands",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("partner_id", sa.Integer(), _partner_fk(), nullable=False),
        sa.Column("command", sa.String(length=24), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("response", sa.String(length=24), nullable=False),
        sa.Column("result", sa.String(length=24), nullable=True),
        sa.Column("result_delivered", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("completed_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_commands")),
    )
    op.create_index("ix_ocpi_commands_partner", "ocpi_commands", ["partner_id", "created_at"])
    op.create_table(
        "ocpi_outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("partner_id", sa.Integer(), _partner_fk(), nullable=False),
        sa.Column("module", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("body", _json(), nullable=True),
        sa.Column("object_key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("ocpi_status", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_outbox")),
    )
    op.create_index("ix_ocpi_outbox_due", "ocpi_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_ocpi_outbox_key", "ocpi_outbox", ["partner_id", "object_key", "status"])
    op.create_table(
        "ocpi_audit",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("module", sa.String(length=32), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("ocpi_status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_audit")),
    )
    op.create_index("ix_ocpi_audit_partner_at", "ocpi_audit", ["partner_id", "at"])
    op.create_table(
        "ocpi_client_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), _partner_fk(), nullable=False),
        sa.Column("country_code_key", sa.String(length=2), nullable=False),
        sa.Column("party_id_key", sa.String(length=3), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("last_updated", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_client_info")),
        sa.UniqueConstraint(
            "partner_id", "country_code_key", "party_id_key", name="uq_ocpi_client_info_party"
        ),
    )


def downgrade() -> None:
    for table in (
        "ocpi_client_info",
        "ocpi_audit",
        "ocpi_outbox",
        "ocpi_commands",
        "ocpi_reservations",
        "ocpi_cdrs",
        "ocpi_pending_starts",
        "ocpi_sessions",
        "ocpi_tokens",
        "ocpi_partners",
    ):
        op.drop_table(table)

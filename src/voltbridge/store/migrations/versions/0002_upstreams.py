"""upstreams: the multiplexer's upstream backoffices, their durable outbox and transaction id maps

Written by hand: only this domain's tables.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voltbridge.store.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = voltbridge.store.base.UTCDateTime
JSON = sa.JSON().with_variant(sa.JSON(none_as_null=True), "sqlite")


def upgrade() -> None:
    op.create_table(
        "upstreams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password", sa.String(length=255), nullable=True),
        sa.Column("client_cert", sa.Text(), nullable=True),
        sa.Column("client_key", sa.Text(), nullable=True),
        sa.Column("ca_cert", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_upstreams_station_id_stations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstreams")),
    )
    with op.batch_alter_table("upstreams", schema=None) as batch_op:
        batch_op.create_index("ix_upstreams_station", ["station_id"], unique=False)
        batch_op.create_index(
            "uq_upstreams_station_billing",
            ["station_id"],
            unique=True,
            sqlite_where=sa.text("role = 'billing'"),
            postgresql_where=sa.text("role = 'billing'"),
        )

    op.create_table(
        "upstream_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("upstream_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upstream_id"],
            ["upstreams.id"],
            name=op.f("fk_upstream_outbox_upstream_id_upstreams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_outbox")),
    )
    with op.batch_alter_table("upstream_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_upstream_outbox_upstream_id", ["upstream_id", "id"], unique=False)

    op.create_table(
        "upstream_transactions",
        sa.Column("upstream_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("their_transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("closed_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["upstream_id"],
            ["upstreams.id"],
            name=op.f("fk_upstream_transactions_upstream_id_upstreams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upstream_id", "transaction_id", name=op.f("pk_upstream_transactions")),
    )
    with op.batch_alter_table("upstream_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_upstream_transactions_theirs", ["upstream_id", "their_transaction_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("upstream_transactions")
    op.drop_table("upstream_outbox")
    op.drop_table("upstreams")

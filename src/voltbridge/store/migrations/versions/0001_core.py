"""core: stations, tokens, transactions, meter values, command log, users

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voltbridge.store.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "command_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_description", sa.Text(), nullable=True),
        sa.Column("created_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("completed_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_log")),
    )
    with op.batch_alter_table("command_log", schema=None) as batch_op:
        batch_op.create_index("ix_command_log_station_created", ["station_id", "created_at"], unique=False)

    op.create_table(
        "id_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("group_id", sa.String(length=36), nullable=True),
        sa.Column("max_concurrent_tx", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("created_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_id_tokens")),
        sa.UniqueConstraint("uid", name=op.f("uq_id_tokens_uid")),
    )
    op.create_table(
        "meter_values",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("measurand", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=True),
        sa.Column("location", sa.String(length=16), nullable=True),
        sa.Column("context", sa.String(length=32), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("raw", sa.String(length=2500), nullable=False),
        sa.Column("signed", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_values")),
    )
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.create_index("ix_meter_values_station_at", ["station_id", "at"], unique=False)
        batch_op.create_index("ix_meter_values_tx_at", ["transaction_id", "at"], unique=False)

    op.create_table(
        "stations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("ocpp_version", sa.String(length=16), nullable=True),
        sa.Column("registration_status", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("lenient", sa.Boolean(), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("serial_number", sa.String(length=64), nullable=True),
        sa.Column("charge_box_serial_number", sa.String(length=64), nullable=True),
        sa.Column("firmware_version", sa.String(length=64), nullable=True),
        sa.Column("iccid", sa.String(length=64), nullable=True),
        sa.Column("imsi", sa.String(length=64), nullable=True),
        sa.Column("meter_type", sa.String(length=64), nullable=True),
        sa.Column("meter_serial_number", sa.String(length=64), nullable=True),
        sa.Column("boot_payload", sa.JSON(), nullable=True),
        sa.Column("booted_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("last_seen_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("connected_node", sa.String(length=128), nullable=True),
        sa.Column("connected_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("disconnected_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "connectors",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=False),
        sa.Column("info", sa.String(length=255), nullable=True),
        sa.Column("vendor_id", sa.String(length=255), nullable=True),
        sa.Column("vendor_error_code", sa.String(length=255), nullable=True),
        sa.Column("status_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_connectors_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("station_id", "connector_id", name=op.f("pk_connectors")),
    )
    op.create_table(
        "station_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_events_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_events")),
    )
    with op.batch_alter_table("station_events", schema=None) as batch_op:
        batch_op.create_index("ix_station_events_station_at", ["station_id", "at"], unique=False)

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("auth_status", sa.String(length=16), nullable=True),
        sa.Column("started_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("stopped_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("meter_start_wh", sa.BigInteger(), nullable=True),
        sa.Column("meter_stop_wh", sa.BigInteger(), nullable=True),
        sa.Column("last_meter_wh", sa.BigInteger(), nullable=True),
        sa.Column("last_meter_at", voltbridge.store.base.UTCDateTime(), nullable=True),
        sa.Column("energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.Column("stop_id_tag", sa.String(length=36), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("started_unseen", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("created_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", voltbridge.store.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_transactions_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint(
            "station_id", "connector_id", "started_at", "meter_start_wh", name="uq_transactions_start"
        ),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_id_tag_status", ["id_tag", "status"], unique=False)
        batch_op.create_index("ix_transactions_started_at", ["started_at"], unique=False)
        batch_op.create_index("ix_transactions_station_status", ["station_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_station_status")
        batch_op.drop_index("ix_transactions_started_at")
        batch_op.drop_index("ix_transactions_id_tag_status")

    op.drop_table("transactions")
    with op.batch_alter_table("station_events", schema=None) as batch_op:
        batch_op.drop_index("ix_station_events_station_at")

    op.drop_table("station_events")
    op.drop_table("connectors")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("stations")
    with op.batch_alter_table("meter_values", schema=None) as batch_op:
        batch_op.drop_index("ix_meter_values_tx_at")
        batch_op.drop_index("ix_meter_values_station_at")

    op.drop_table("meter_values")
    op.drop_table("id_tokens")
    with op.batch_alter_table("command_log", schema=None) as batch_op:
        batch_op.drop_index("ix_command_log_station_created")

    op.drop_table("command_log")

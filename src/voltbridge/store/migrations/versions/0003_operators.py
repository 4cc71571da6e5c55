"""operators: operators, charging areas, drivers, private networks, commission settings, audit log

Adds to `stations` the charging area and the visibility flag, and makes `users.operator_id` a
foreign key to `operators`. Written by hand: only this domain's tables and columns.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voltbridge.store.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = voltbridge.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("organisation_name", sa.String(length=255), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=64), nullable=True),
        sa.Column("city", sa.String(length=128), nullable=True),
        sa.Column("zip", sa.String(length=32), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("rating_min_duration_s", sa.Integer(), nullable=False),
        sa.Column("rating_min_energy_wh", sa.Integer(), nullable=False),
        sa.Column("rating_rate_idle", sa.Boolean(), nullable=False),
        sa.Column("idle_after_minutes", sa.Integer(), nullable=True),
        sa.Column("idle_stop_tracking_after_minutes", sa.Integer(), nullable=True),
        sa.Column("energy_step_delta_wh", sa.Integer(), nullable=True),
        sa.Column("security_key_hash", sa.String(length=64), nullable=True),
        sa.Column("security_key_prefix", sa.String(length=16), nullable=True),
        sa.Column("security_key_rotated_at", UTC(), nullable=True),
        sa.Column("session_limit_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("session_limit_currency", sa.String(length=3), nullable=True),
        sa.Column("private_network_groups", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("code", name=op.f("uq_operators_code")),
    )
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("city", sa.String(length=128), nullable=True),
        sa.Column("zip", sa.String(length=32), nullable=True),
        sa.Column("country", sa.String(length=64), nullable=True),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("grid_limit", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("grid_limit_unit", sa.String(length=4), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_areas_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["areas.id"], name=op.f("fk_areas_parent_id_areas")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_areas")),
        sa.UniqueConstraint("code", name=op.f("uq_areas_code")),
    )
    op.create_index(op.f("ix_areas_operator_id"), "areas", ["operator_id"], unique=False)
    op.create_index(op.f("ix_areas_parent_id"), "areas", ["parent_id"], unique=False)

    op.create_table(
        "drivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drivers")),
        sa.UniqueConstraint("email", name=op.f("uq_drivers_email")),
    )
    op.create_table(
        "driver_tokens",
        sa.Column("id_token_id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["drivers.id"], name=op.f("fk_driver_tokens_driver_id_drivers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["id_token_id"],
            ["id_tokens.id"],
            name=op.f("fk_driver_tokens_id_token_id_id_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_token_id", name=op.f("pk_driver_tokens")),
    )
    op.create_index(op.f("ix_driver_tokens_driver_id"), "driver_tokens", ["driver_id"], unique=False)

    op.create_table(
        "network_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("id_token_id", sa.Integer(), nullable=False),
        sa.Column("granted_at", UTC(), nullable=False),
        sa.Column("granted_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["id_token_id"],
            ["id_tokens.id"],
            name=op.f("fk_network_members_id_token_id_id_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_network_members_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_members")),
        sa.UniqueConstraint("operator_id", "id_token_id", name="uq_network_members_operator_token"),
    )
    op.create_index(op.f("ix_network_members_id_token_id"), "network_members", ["id_token_id"], unique=False)

    op.create_table(
        "commission_settings",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price_per_kwh", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("price_per_session", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("operator_share_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_commission_settings_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operator_id", name=op.f("pk_commission_settings")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"], unique=False)
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_audit_log_operator_id"), "audit_log", ["operator_id"], unique=False)

    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("visible", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_foreign_key(op.f("fk_stations_area_id_areas"), "areas", ["area_id"], ["id"])
        batch_op.create_index(op.f("ix_stations_area_id"), ["area_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_users_operator_id_operators"), "operators", ["operator_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_users_operator_id_operators"), type_="foreignkey")

    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_stations_area_id"))
        batch_op.drop_constraint(op.f("fk_stations_area_id_areas"), type_="foreignkey")
        batch_op.drop_column("visible")
        batch_op.drop_column("area_id")

    op.drop_index(op.f("ix_audit_log_operator_id"), table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("commission_settings")
    op.drop_index(op.f("ix_network_members_id_token_id"), table_name="network_members")
    op.drop_table("network_members")
    op.drop_index(op.f("ix_driver_tokens_driver_id"), table_name="driver_tokens")
    op.drop_table("driver_tokens")
    op.drop_table("drivers")
    op.drop_index(op.f("ix_areas_parent_id"), table_name="areas")
    op.drop_index(op.f("ix_areas_operator_id"), table_name="areas")
    op.drop_table("areas")
    op.drop_table("operators")

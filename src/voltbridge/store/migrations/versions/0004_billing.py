"""billing: tariffs and versions, tariff assignments, session costs, CDRs, session reviews

Adds to `stations` the metering facts: MID meter (with serial and certificate reference),
bidirectional, home charger (with its owner or employee) and the EAN of the grid connection.
Written by hand: only this domain's tables and columns. Comes after 0003 because assignments name
charging areas and operators.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voltbridge.store.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = voltbridge.store.base.UTCDateTime
MONEY = sa.Numeric(precision=14, scale=4)


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ocpi_id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_tariffs_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariffs")),
        sa.UniqueConstraint("ocpi_id", name=op.f("uq_tariffs_ocpi_id")),
    )
    op.create_index(op.f("ix_tariffs_operator_id"), "tariffs", ["operator_id"], unique=False)
    op.create_table(
        "tariff_versions",
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["tariff_id"],
            ["tariffs.id"],
            name=op.f("fk_tariff_versions_tariff_id_tariffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tariff_id", "version", name=op.f("pk_tariff_versions")),
    )
    op.create_table(
        "tariff_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("driver_group_operator_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("group_key", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_tariff_assignments_area_id_areas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["driver_group_operator_id"],
            ["operators.id"],
            name=op.f("fk_tariff_assignments_driver_group_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_tariff_assignments_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.id"], name=op.f("fk_tariff_assignments_tariff_id_tariffs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_assignments")),
        sa.UniqueConstraint("target", "group_key", name="uq_tariff_assignments_target_group"),
    )
    op.create_index(op.f("ix_tariff_assignments_area_id"), "tariff_assignments", ["area_id"], unique=False)
    op.create_index(
        op.f("ix_tariff_assignments_station_id"), "tariff_assignments", ["station_id"], unique=False
    )
    op.create_index(
        op.f("ix_tariff_assignments_tariff_id"), "tariff_assignments", ["tariff_id"], unique=False
    )
    op.create_table(
        "session_costs",
        sa.Column("transaction_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tariff_pk", sa.Integer(), nullable=True),
        sa.Column("tariff_version", sa.Integer(), nullable=True),
        sa.Column("tariff_level", sa.String(length=16), nullable=True),
        sa.Column("tariff", sa.JSON(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("rate_idle", sa.Boolean(), nullable=False),
        sa.Column("idle_after_s", sa.Integer(), nullable=False),
        sa.Column("limit_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("limit_currency", sa.String(length=3), nullable=True),
        sa.Column("cost_excl_vat", MONEY, nullable=True),
        sa.Column("cost_incl_vat", MONEY, nullable=True),
        sa.Column("energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("as_of", UTC(), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("limit_reached_at", UTC(), nullable=True),
        sa.Column("limit_command_status", sa.String(length=32), nullable=True),
        sa.Column("stop_reason", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_session_costs_transaction_id_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_session_costs")),
    )
    op.create_table(
        "cdrs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("credit_reference_id", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("id_tag", sa.String(length=36), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("start_at", UTC(), nullable=False),
        sa.Column("stop_at", UTC(), nullable=False),
        sa.Column("start_local", sa.String(length=40), nullable=False),
        sa.Column("stop_local", sa.String(length=40), nullable=False),
        sa.Column("meter_start_wh", sa.BigInteger(), nullable=True),
        sa.Column("meter_stop_wh", sa.BigInteger(), nullable=True),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("charging_seconds", sa.Integer(), nullable=False),
        sa.Column("idle_seconds", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_excl_vat", MONEY, nullable=False),
        sa.Column("total_incl_vat", MONEY, nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("tariff_pk", sa.Integer(), nullable=True),
        sa.Column("tariff", sa.JSON(), nullable=True),
        sa.Column("signed_data", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("stop_reason", sa.String(length=64), nullable=True),
        sa.Column("remark", sa.String(length=255), nullable=True),
        sa.Column("correction", sa.JSON(), nullable=True),
        sa.Column("mid_meter", sa.Boolean(), nullable=False),
        sa.Column("mid_meter_serial", sa.String(length=64), nullable=True),
        sa.Column("bidirectional", sa.Boolean(), nullable=False),
        sa.Column("home_charger", sa.Boolean(), nullable=False),
        sa.Column("home_owner", sa.String(length=255), nullable=True),
        sa.Column("grid_ean", sa.String(length=18), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_reference_id"], ["cdrs.id"], name=op.f("fk_cdrs_credit_reference_id_cdrs")
        ),
        sa.ForeignKeyConstraint(["supersedes_id"], ["cdrs.id"], name=op.f("fk_cdrs_supersedes_id_cdrs")),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["transactions.id"], name=op.f("fk_cdrs_transaction_id_transactions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdrs")),
        sa.UniqueConstraint("transaction_id", "sequence", name="uq_cdrs_transaction_sequence"),
    )
    op.create_index("ix_cdrs_operator_start", "cdrs", ["operator_id", "start_at"], unique=False)
    op.create_index("ix_cdrs_station_start", "cdrs", ["station_id", "start_at"], unique=False)
    op.create_table(
        "session_reviews",
        sa.Column("transaction_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("flagged_at", UTC(), nullable=False),
        sa.Column("decided_at", UTC(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("correction", sa.JSON(), nullable=True),
        sa.Column("cdr_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["cdr_id"], ["cdrs.id"], name=op.f("fk_session_reviews_cdr_id_cdrs")),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_session_reviews_transaction_id_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_session_reviews")),
    )
    op.create_index("ix_session_reviews_status", "session_reviews", ["status"], unique=False)
    op.create_index(op.f("ix_session_reviews_operator_id"), "session_reviews", ["operator_id"], unique=False)

    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mid_meter", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("mid_meter_serial", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("mid_certificate", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("bidirectional", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("home_charger", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("home_owner", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("grid_ean", sa.String(length=18), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_column("grid_ean")
        batch_op.drop_column("home_owner")
        batch_op.drop_column("home_charger")
        batch_op.drop_column("bidirectional")
        batch_op.drop_column("mid_certificate")
        batch_op.drop_column("mid_meter_serial")
        batch_op.drop_column("mid_meter")

    op.drop_index(op.f("ix_session_reviews_operator_id"), table_name="session_reviews")
    op.drop_index("ix_session_reviews_status", table_name="session_reviews")
    op.drop_table("session_reviews")
    op.drop_index("ix_cdrs_station_start", table_name="cdrs")
    op.drop_index("ix_cdrs_operator_start", table_name="cdrs")
    op.drop_table("cdrs")
    op.drop_table("session_costs")
    op.drop_index(op.f("ix_tariff_assignments_tariff_id"), table_name="tariff_assignments")
    op.drop_index(op.f("ix_tariff_assignments_station_id"), table_name="tariff_assignments")
    op.drop_index(op.f("ix_tariff_assignments_area_id"), table_name="tariff_assignments")
    op.drop_table("tariff_assignments")
    op.drop_table("tariff_versions")
    op.drop_index(op.f("ix_tariffs_operator_id"), table_name="tariffs")
    op.drop_table("tariffs")

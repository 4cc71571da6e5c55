"""meter_values: index by station only the values outside a transaction

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 05:45:00

Every query reads a session's values through the transaction index. The full station index cost
every commit of the meter stream one dirty leaf page per charger (half the SQLite time per message,
measured); values that belong to no transaction still need a way in, and only they are indexed now.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNTRACKED = sa.text("transaction_id IS NULL")


def upgrade() -> None:
    op.drop_index("ix_meter_values_station_at", table_name="meter_values")
    op.create_index(
        "ix_meter_values_station_untracked",
        "meter_values",
        ["station_id", "at"],
        sqlite_where=_UNTRACKED,
        postgresql_where=_UNTRACKED,
    )


def downgrade() -> None:
    op.drop_index("ix_meter_values_station_untracked", table_name="meter_values")
    op.create_index("ix_meter_values_station_at", "meter_values", ["station_id", "at"])

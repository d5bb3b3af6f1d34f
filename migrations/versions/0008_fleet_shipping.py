"""Fleet mode (issue 14): shipping high-water marks, the shipper's status row, fleet holds.

New tables only, so nothing is rebuilt and no view has to step aside.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fleet_marks",
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("shipped_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("open_from", sa.BigInteger(), nullable=True),
        sa.Column("rows_shipped", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("dropped_unshipped", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("shipped_at", sa.REAL(), nullable=True),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_fleet_marks")),
    )
    op.create_table(
        "fleet_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("centre", sa.Text(), nullable=False),
        sa.Column("last_attempt_at", sa.REAL(), nullable=True),
        sa.Column("last_success_at", sa.REAL(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lag_s", sa.REAL(), nullable=True),
        sa.Column("updated_at", sa.REAL(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_fleet_status_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_status")),
    )
    op.create_table(
        "fleet_holds",
        sa.Column("component", sa.Text(), nullable=False),
        sa.Column("fleet_incident_id", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.REAL(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.REAL(), nullable=False),
        sa.PrimaryKeyConstraint("component", name=op.f("pk_fleet_holds")),
    )


def downgrade() -> None:
    op.drop_table("fleet_holds")
    op.drop_table("fleet_status")
    op.drop_table("fleet_marks")

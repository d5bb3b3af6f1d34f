"""daemon_info: the running daemon's config directory, host, pid and version (one row).

Read verbs use the recorded config directory when no --config is given, so an operator does not repeat
it for every command while the daemon runs (issue 9).

Revision ID: 0005
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daemon_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("config_dir", sa.Text(), nullable=False),
        sa.Column("db_path", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("started_at", sa.REAL(), nullable=False),
        sa.Column("stopped_at", sa.REAL(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_daemon_info_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daemon_info")),
    )


def downgrade() -> None:
    op.drop_table("daemon_info")

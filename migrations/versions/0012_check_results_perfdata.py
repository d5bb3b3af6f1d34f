"""check_results.perfdata: a Nagios plugin's performance data, kept apart from its status text.

Plugins print `TEXT | label=value;warn;crit;min;max ...`; the text is the message an operator reads in
`healerd status`, the perfdata is figures for a grapher. Mixed into one 200-character message, the
figures crowd the text out. A nullable column added in place: no table rebuild, so the views stay.

Revision ID: 0012
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0012"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("check_results", sa.Column("perfdata", sa.Text(), nullable=True))


def downgrade() -> None:
    # A batch rebuild (works on any SQLite, not only ≥ 3.35), so the views over check_results step aside.
    with schema_sql.objects_dropped(op.get_bind()):
        with op.batch_alter_table("check_results") as batch:
            batch.drop_column("perfdata")

"""degradation_state.tracker: the level tracker's whole snapshot as JSON.

The scalar columns show one pending level, but hysteresis keeps a clearing time per better level and
the override carries the time it was set; a restart must carry all of it over, so the daemon stores
TrackerState.to_dict() here and keeps the scalar columns filled for the views and the sqlite3 shell.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A batch rebuild (for the named CHECK), so the views that read degradation_state step aside.
    with schema_sql.objects_dropped(op.get_bind()):
        with op.batch_alter_table("degradation_state") as batch:
            batch.add_column(sa.Column("tracker", sa.Text(), nullable=True))
            batch.create_check_constraint(
                op.f("ck_degradation_state_tracker_json"), "tracker IS NULL OR json_valid(tracker)"
            )


def downgrade() -> None:
    with schema_sql.objects_dropped(op.get_bind()):
        with op.batch_alter_table("degradation_state") as batch:
            batch.drop_constraint(op.f("ck_degradation_state_tracker_json"), type_="check")
            batch.drop_column("tracker")

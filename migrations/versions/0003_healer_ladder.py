"""Self-healer: ladder_state.ladder (JSON), decision kinds for the incident's life, recovery_ladder_outcomes.

- `ladder_state.ladder` holds the whole LadderState (engine/ladder.py): budgets per step, the step in
  progress, the escalation, the active fallback, owed `resolved` messages. It is written in the same
  transaction as the row it belongs to (incident, recovery event, escalation), so a restart resumes the
  ladder where the history says it stood.
- `decisions.kind` also takes `open_incident`, `close_incident` and `failback`: they are decisions with
  reasons like the others, and `healerd explain` shows them in order.
- the new view `recovery_ladder_outcomes` (schema/views/) is created by `refresh()`.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = "kind IN ('wait', 'run_step', 'escalate', 'nothing')"
_NEW_KINDS = "kind IN ('wait', 'run_step', 'escalate', 'nothing', 'open_incident', 'close_incident', 'failback')"


def upgrade() -> None:
    bind = op.get_bind()
    # Batch rebuilds (named CHECKs): views and triggers (decisions has two) step aside meanwhile.
    with schema_sql.objects_dropped(bind):
        with op.batch_alter_table("ladder_state") as batch:
            batch.add_column(sa.Column("ladder", sa.Text(), nullable=True))
            batch.create_check_constraint(op.f("ck_ladder_state_ladder_json"), "ladder IS NULL OR json_valid(ladder)")
        with op.batch_alter_table("decisions") as batch:
            batch.drop_constraint(op.f("ck_decisions_kind"), type_="check")
            batch.create_check_constraint(op.f("ck_decisions_kind"), _NEW_KINDS)
    schema_sql.refresh(bind)


def downgrade() -> None:
    bind = op.get_bind()
    with schema_sql.objects_dropped(bind):
        # Rows of the new kinds cannot satisfy the old CHECK: they go (decisions are append-only by
        # trigger, and the triggers are dropped for the duration of this block).
        bind.exec_driver_sql("DELETE FROM decisions WHERE kind IN ('open_incident', 'close_incident', 'failback')")
        with op.batch_alter_table("decisions") as batch:
            batch.drop_constraint(op.f("ck_decisions_kind"), type_="check")
            batch.create_check_constraint(op.f("ck_decisions_kind"), _OLD_KINDS)
        with op.batch_alter_table("ladder_state") as batch:
            batch.drop_constraint(op.f("ck_ladder_state_ladder_json"), type_="check")
            batch.drop_column("ladder")

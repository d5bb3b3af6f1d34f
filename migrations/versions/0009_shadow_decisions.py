"""Issue 15: shadow mode. `shadow_decisions` holds what a second policy set decided alongside the live one
(nothing of it was executed); the view `shadow_decision_comparison` sets each beside the live decision.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shadow_decisions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("component_id", _ID, nullable=False),
        sa.Column("ts", sa.REAL(), nullable=False),
        sa.Column("shadow_config", sa.Text(), nullable=False),
        sa.Column("incident", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("strategy", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.REAL(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('wait', 'run_step', 'escalate', 'nothing', 'open_incident', 'close_incident', 'failback')",
            name=op.f("ck_shadow_decisions_kind"),
        ),
        sa.CheckConstraint(
            "strategy IS NULL OR strategy IN ('retry', 'restore', 'fallback', 'escalate')",
            name=op.f("ck_shadow_decisions_strategy"),
        ),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_shadow_decisions_component_id_components")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_decisions")),
    )
    op.create_index(op.f("ix_shadow_decisions_component_id_ts"), "shadow_decisions", ["component_id", "ts"])
    schema_sql.refresh(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    bind.exec_driver_sql("DROP VIEW IF EXISTS shadow_decision_comparison")
    op.drop_index(op.f("ix_shadow_decisions_component_id_ts"), table_name="shadow_decisions")
    op.drop_table("shadow_decisions")

"""Feature flags as a view: the table becomes `feature_flag_state`, `feature_flags` is the report.

Issue 5 names a `feature_flags` *view* beside `active_degradation`; a view cannot share a name with a
table, so the table is renamed (rebuilt with its constraints named after the new table) and the view
reads it. Rows are copied across in both directions.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: active_degradation as it was before this revision (the file now reads feature_flag_state).
_OLD_ACTIVE_DEGRADATION = """-- The degradation level in force, why, and which feature flags are off (one row once scored).
-- `level` is the operator's override while it lasts (no `override_until` = until cleared), otherwise
-- the level computed from the health score (`computed_level`); `pending_level` is where hysteresis is
-- heading and since when.
CREATE VIEW active_degradation AS
SELECT CASE WHEN s.override_level IS NOT NULL
                 AND (s.override_until IS NULL
                      OR s.override_until > (julianday('now') - 2440587.5) * 86400.0)
            THEN s.override_level ELSE s.level END AS level,
       s.level AS computed_level,
       round(s.score, 3) AS score,
       s.unknown_count,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.since, 'unixepoch') AS since,
       CASE WHEN s.override_level IS NOT NULL
                 AND (s.override_until IS NULL
                      OR s.override_until > (julianday('now') - 2440587.5) * 86400.0)
            THEN 1 ELSE 0 END AS override_active,
       s.override_level,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.override_until, 'unixepoch') AS override_until,
       s.override_reason,
       s.pending_level,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.pending_since, 'unixepoch') AS pending_since,
       (SELECT group_concat(f.name, ',')
          FROM (SELECT name FROM feature_flags WHERE enabled = 0 ORDER BY name) AS f) AS disabled_flags,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.updated_at, 'unixepoch') AS updated_at
  FROM degradation_state AS s
 WHERE s.id = 1;
"""


def _flags_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "enabled",
            sa.Boolean(create_constraint=True, name=op.f(f"ck_{name}_enabled")),
            server_default=sa.text("1"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.REAL(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    bind = op.get_bind()
    with schema_sql.objects_dropped(bind):
        _flags_table("feature_flag_state")
        bind.exec_driver_sql(
            "INSERT INTO feature_flag_state (name, enabled, reason, updated_at) "
            "SELECT name, enabled, reason, updated_at FROM feature_flags"
        )
        op.drop_table("feature_flags")


def downgrade() -> None:
    bind = op.get_bind()
    schema_sql.drop(bind)
    _flags_table("feature_flags")
    bind.exec_driver_sql(
        "INSERT INTO feature_flags (name, enabled, reason, updated_at) "
        "SELECT name, enabled, reason, updated_at FROM feature_flag_state"
    )
    op.drop_table("feature_flag_state")
    # the views and triggers as revision 0003 had them: every file but the two this revision changed
    for name, path in schema_sql.files("view").items():
        if name == "active_degradation":
            bind.exec_driver_sql(_OLD_ACTIVE_DEGRADATION)
        elif name != "feature_flags":
            bind.exec_driver_sql(path.read_text(encoding="utf-8"))
    for path in schema_sql.files("trigger").values():
        bind.exec_driver_sql(path.read_text(encoding="utf-8"))

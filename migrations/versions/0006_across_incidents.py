"""Issue 10: maintenance windows and silences; availability leaves maintenance time out.

- `maintenance_periods`: each occurrence of a `[[maintenance]]` window and each `healerd silence`, with
  its reason, planned end and early clear — what `status`, `explain` and the views read.
- `check_results.maintenance` and the rollups' `maintenance` / `maintenance_up` counters: results taken
  in maintenance are still recorded, and `component_availability_24h` leaves them out of its fraction.
- new views `maintenance_windows` and `flapping_components`; `component_availability_24h` changes
  (all files in schema/views/).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: component_availability_24h before this revision (the file now leaves maintenance out).
_OLD_AVAILABILITY = """-- Availability per configured component over the last 24 hourly rollups (this hour and the 23 before).
-- Read from result_rollups_hourly, not raw results: it stays cheap however many results are kept.
-- availability_pct counts healthy and degraded checks as up (degraded = passed, but slowly);
-- healthy_pct counts healthy only. Both are NULL for a component without checks in the window.
CREATE VIEW component_availability_24h AS
WITH bounds AS (
    SELECT CAST(((julianday('now') - 2440587.5) * 86400.0) / 3600 AS INTEGER) * 3600 - 23 * 3600
           AS first_hour
),
sums AS (
    SELECT h.component_id,
           sum(h.total) AS checks,
           sum(h.healthy) AS healthy,
           sum(h.degraded) AS degraded,
           sum(h.unhealthy) AS unhealthy,
           sum(h.unknown) AS unknown,
           sum(h.injected) AS injected,
           sum(h.latency_sum_ms) AS latency_sum_ms,
           min(h.latency_min_ms) AS latency_min_ms,
           max(h.latency_max_ms) AS latency_max_ms
      FROM result_rollups_hourly AS h, bounds
     WHERE h.hour >= bounds.first_hour
     GROUP BY h.component_id
)
SELECT c.name AS component,
       coalesce(s.checks, 0) AS checks,
       coalesce(s.healthy, 0) AS healthy,
       coalesce(s.degraded, 0) AS degraded,
       coalesce(s.unhealthy, 0) AS unhealthy,
       coalesce(s.unknown, 0) AS unknown,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE round(100.0 * (s.healthy + s.degraded) / s.checks, 3) END AS availability_pct,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE round(100.0 * s.healthy / s.checks, 3) END AS healthy_pct,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE round(s.latency_sum_ms / s.checks, 3) END AS avg_latency_ms,
       s.latency_min_ms AS min_latency_ms,
       s.latency_max_ms AS max_latency_ms,
       coalesce(s.injected, 0) AS injected,
       strftime('%Y-%m-%dT%H:%M:%fZ', bounds.first_hour, 'unixepoch') AS since
  FROM components AS c
 CROSS JOIN bounds
  LEFT JOIN sums AS s ON s.component_id = c.id
 WHERE c.removed_at IS NULL
 ORDER BY c.name;
"""


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "maintenance_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.REAL(), nullable=False),
        sa.Column("ends_at", sa.REAL(), nullable=False),
        sa.Column("cleared_at", sa.REAL(), nullable=True),
        sa.Column("created_at", sa.REAL(), nullable=False),
        sa.CheckConstraint("kind IN ('window', 'silence')", name=op.f("ck_maintenance_periods_kind")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_maintenance_periods_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_maintenance_periods_component_id_components")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_periods")),
    )
    op.create_index(op.f("ix_maintenance_periods_component_id"), "maintenance_periods", ["component_id"])
    op.create_index(op.f("ix_maintenance_periods_ends_at"), "maintenance_periods", ["ends_at"])
    with schema_sql.objects_dropped(bind):
        with op.batch_alter_table("check_results") as batch:
            batch.add_column(
                sa.Column(
                    "maintenance",
                    sa.Boolean(create_constraint=True, name=op.f("ck_check_results_maintenance")),
                    server_default=sa.text("0"),
                    nullable=False,
                )
            )
        with op.batch_alter_table("result_rollups_hourly") as batch:
            batch.add_column(sa.Column("maintenance", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
            batch.add_column(sa.Column("maintenance_up", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
    schema_sql.refresh(bind)


def downgrade() -> None:
    bind = op.get_bind()
    with schema_sql.objects_dropped(bind):
        with op.batch_alter_table("result_rollups_hourly") as batch:
            batch.drop_column("maintenance_up")
            batch.drop_column("maintenance")
        with op.batch_alter_table("check_results") as batch:
            batch.drop_constraint(op.f("ck_check_results_maintenance"), type_="check")
            batch.drop_column("maintenance")
    op.drop_index(op.f("ix_maintenance_periods_ends_at"), table_name="maintenance_periods")
    op.drop_index(op.f("ix_maintenance_periods_component_id"), table_name="maintenance_periods")
    op.drop_table("maintenance_periods")
    # views this revision added (objects_dropped re-created them from the files above)
    bind.exec_driver_sql("DROP VIEW IF EXISTS maintenance_windows")
    bind.exec_driver_sql("DROP VIEW IF EXISTS flapping_components")
    bind.exec_driver_sql("DROP VIEW IF EXISTS component_availability_24h")
    bind.exec_driver_sql(_OLD_AVAILABILITY)

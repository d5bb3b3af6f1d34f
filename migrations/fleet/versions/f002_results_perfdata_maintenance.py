"""The centre catches up with local revisions 0006 and 0012: the shipped check results gain a plugin's
`perfdata` and the `maintenance` flag (a result taken in a maintenance window or silence), and the
maintenance windows and silences themselves (`maintenance_periods`) are shipped, and so are shadow
mode's decisions (`shadow_decisions`, local revision 0009).

Views: component_availability_7d / _30d, flapping_components, maintenance_windows and shadow_decision_comparison are new (the
PostgreSQL versions of issue 10's and 11's local views); component_availability_24h and
fleet_availability_24h now leave checks taken in maintenance out of the fractions, as the local view
does. A downgrade puts back f001's text of those two (OLD_SQL) and drops the new ones.

Revision ID: f002
Revises: f001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from daemon.store import fleet_views

revision: str = "f002"
down_revision: str | None = "f001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Views this revision adds (older revisions leave them out: fleet_views.apply_as_of).
NEW_VIEWS: frozenset[str] = frozenset(
    {
        "component_availability_7d",
        "component_availability_30d",
        "flapping_components",
        "maintenance_windows",
        "shadow_decision_comparison",
    }
)

#: Files under schema/fleet/views/ this revision changes, as f001 had them (name → SQL).
OLD_SQL: dict[str, str] = {
    "component_availability_24h": """-- Per host and component: checks and availability over the last 24 hours, from the shipped raw results.
-- The local view reads hourly rollups; the centre receives raw results instead (a result never changes,
-- a rollup row changes with every check), so this one counts results since the start of the hour 23
-- hours ago — the same window as the local view.
CREATE VIEW component_availability_24h AS
WITH bounds AS (
    SELECT floor(healerd_now() / 3600) * 3600 - 23 * 3600 AS first_hour
),
sums AS (
    SELECT r.host,
           r.component_id,
           count(*) AS checks,
           count(*) FILTER (WHERE r.status = 'healthy') AS healthy,
           count(*) FILTER (WHERE r.status = 'degraded') AS degraded,
           count(*) FILTER (WHERE r.status = 'unhealthy') AS unhealthy,
           count(*) FILTER (WHERE r.status = 'unknown') AS unknown,
           count(*) FILTER (WHERE r.injected) AS injected,
           sum(coalesce(r.latency_ms, 0)) AS latency_sum_ms,
           min(r.latency_ms) AS latency_min_ms,
           max(r.latency_ms) AS latency_max_ms
      FROM check_results AS r, bounds
     WHERE r.ts >= bounds.first_hour
     GROUP BY r.host, r.component_id
)
SELECT c.host,
       c.name AS component,
       coalesce(s.checks, 0) AS checks,
       coalesce(s.healthy, 0) AS healthy,
       coalesce(s.degraded, 0) AS degraded,
       coalesce(s.unhealthy, 0) AS unhealthy,
       coalesce(s.unknown, 0) AS unknown,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE healerd_round(100.0 * (s.healthy + s.degraded) / s.checks) END AS availability_pct,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE healerd_round(100.0 * s.healthy / s.checks) END AS healthy_pct,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE healerd_round(s.latency_sum_ms / s.checks) END AS avg_latency_ms,
       s.latency_min_ms AS min_latency_ms,
       s.latency_max_ms AS max_latency_ms,
       coalesce(s.injected, 0) AS injected,
       healerd_iso(bounds.first_hour) AS since
  FROM components AS c
 CROSS JOIN bounds
  LEFT JOIN sums AS s ON s.host = c.host AND s.component_id = c.id
 WHERE c.removed_at IS NULL
 ORDER BY c.host, c.name;
""",
    "fleet_availability_24h": """-- Per component name across the fleet: checks and availability over the last 24 hours, all hosts
-- together, and the worst host's availability (from each host's component_availability_24h).
CREATE VIEW fleet_availability_24h AS
SELECT a.component,
       count(*) AS hosts,
       sum(a.checks) AS checks,
       CASE WHEN sum(a.checks) = 0 THEN NULL
            ELSE healerd_round(100.0 * sum(a.healthy + a.degraded) / sum(a.checks)) END AS availability_pct,
       min(a.availability_pct) AS worst_host_pct,
       (array_agg(a.host ORDER BY a.availability_pct ASC NULLS LAST))[1] AS worst_host,
       sum(a.unhealthy) AS unhealthy,
       sum(a.unknown) AS unknown,
       min(a.since) AS since
  FROM component_availability_24h AS a
 GROUP BY a.component
 ORDER BY a.component;
""",
}


def upgrade() -> None:
    op.add_column("check_results", sa.Column("perfdata", sa.Text(), nullable=True))
    # rows shipped before this revision were never taken in maintenance
    op.add_column("check_results", sa.Column("maintenance", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "maintenance_periods",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.Double(), nullable=False),
        sa.Column("ends_at", sa.Double(), nullable=False),
        sa.Column("cleared_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_maintenance_periods")),
    )
    op.create_table(
        "shadow_decisions",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("shadow_config", sa.Text(), nullable=False),
        sa.Column("incident", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("strategy", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_shadow_decisions")),
    )
    fleet_views.refresh(op.get_bind(), context.script, revision)


def downgrade() -> None:
    fleet_views.drop(op.get_bind())
    op.drop_table("shadow_decisions")
    op.drop_table("maintenance_periods")
    op.drop_column("check_results", "maintenance")
    op.drop_column("check_results", "perfdata")
    fleet_views.apply_as_of(op.get_bind(), context.script, down_revision)

"""Views that stay fast at a year of history; history that retention may prune (issue 11).

- `result_rollups_daily`: the hourly rollups summed per UTC day, kept by two triggers on
  result_rollups_hourly (so whatever writes the hourly rows keeps the days exact) and back-filled here.
  The new views `component_availability_7d` / `_30d` read whole days from it and only the first,
  partial day from the hourly rows.
- `component_availability_24h` range-scans the (hour, component_id) key (CROSS JOIN, `+component_id`)
  instead of walking all 400 days of rollups through the component_id index.
- `breaker_outages`: one row per outage, kept by two triggers on breaker_transitions and back-filled
  here with the exact pairing the old view made (each closed→open with the first close after it, by
  (ts, id)); `breaker_outage_stats` (per component: count, mean, median, min, max, last close) is
  recomputed from it through its index by triggers whenever an outage closes or goes. `recovery_mttr`
  reads those. The old view was quadratic.
- `recovery_outcomes` (counts per component and strategy, plus the median and maximum seconds to
  verified health, recomputed from `recovery_verified` through its index), kept by triggers on
  recovery_events and recovery_verified and back-filled here; `recovery_ladder_outcomes` reads it
  instead of sorting every recovery event of the year.
- `ix_check_results_failures_ts`, a partial index on failed results, serves recent_health_failures.
- `retention_horizon` and the new `*_no_delete` triggers of breaker_transitions, decisions and
  recovery_events: `[retention] history` pruning may delete rows older than the horizon it sets inside
  its own transaction, never an open incident's rows; any other delete is still refused.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Objects this revision adds (a downgrade leaves them out).
_NEW = {
    ("view", "component_availability_7d"),
    ("view", "component_availability_30d"),
    ("trigger", "breaker_outages_open"),
    ("trigger", "breaker_outages_close"),
    ("trigger", "result_rollups_daily_insert"),
    ("trigger", "result_rollups_daily_update"),
    ("trigger", "recovery_outcomes_insert"),
    ("trigger", "recovery_outcomes_update"),
    ("trigger", "recovery_outcomes_delete"),
    ("trigger", "breaker_outages_prune"),
}

#: Objects this revision changes, as revision 0006 had them (what a downgrade puts back).
OLD_SQL: dict[tuple[str, str], str] = {
    (
        "view",
        "recovery_ladder_outcomes",
    ): "-- Per component and ladder strategy: how often each kind of repair ran, how often it healed, how long to verified health.\n-- Counted: finished, real (not dry-run) recovery events of all time; `failback` is a fallback step's\n-- deactivate (the switch back to the primary), shown apart from the fallback that activated a standby.\n-- attempts = succeeded + failed + interrupted; success_pct = succeeded / attempts;\n-- median_to_verified_s / max_to_verified_s: seconds from the step's start to the check that verified\n-- it (succeeded steps only); `in_progress` counts steps still running.\nCREATE VIEW recovery_ladder_outcomes AS\nWITH events AS (\n    SELECT e.component_id,\n           CASE WHEN e.strategy = 'fallback' AND e.action = 'deactivate' THEN 'failback' ELSE e.strategy END AS strategy,\n           e.status,\n           e.started_at,\n           CASE WHEN e.status = 'succeeded' AND e.verified_at IS NOT NULL\n                THEN e.verified_at - e.started_at END AS to_verified_s\n      FROM recovery_events AS e\n     WHERE e.dry_run = 0\n       AND e.status <> 'skipped'\n),\nranked AS (\n    SELECT component_id,\n           strategy,\n           to_verified_s,\n           row_number() OVER (PARTITION BY component_id, strategy ORDER BY to_verified_s) AS rn,\n           count(*) OVER (PARTITION BY component_id, strategy) AS n\n      FROM events\n     WHERE to_verified_s IS NOT NULL\n),\nmedians AS (\n    SELECT component_id, strategy, avg(to_verified_s) AS median_s\n      FROM ranked\n     WHERE rn IN ((n + 1) / 2, (n + 2) / 2)\n     GROUP BY component_id, strategy\n),\ncounts AS (\n    SELECT component_id,\n           strategy,\n           sum(status IN ('succeeded', 'failed', 'interrupted')) AS attempts,\n           sum(status = 'succeeded') AS succeeded,\n           sum(status = 'failed') AS failed,\n           sum(status = 'interrupted') AS interrupted,\n           sum(status = 'started') AS in_progress,\n           max(to_verified_s) AS max_s,\n           max(started_at) AS last_started_at\n      FROM events\n     GROUP BY component_id, strategy\n)\nSELECT c.name AS component,\n       k.strategy,\n       k.attempts,\n       k.succeeded,\n       k.failed,\n       k.interrupted,\n       CASE WHEN k.attempts = 0 THEN NULL ELSE round(100.0 * k.succeeded / k.attempts, 3) END AS success_pct,\n       round(m.median_s, 3) AS median_to_verified_s,\n       round(k.max_s, 3) AS max_to_verified_s,\n       k.in_progress,\n       strftime('%Y-%m-%dT%H:%M:%fZ', k.last_started_at, 'unixepoch') AS last_attempt_at\n  FROM counts AS k\n  JOIN components AS c ON c.id = k.component_id\n  LEFT JOIN medians AS m ON m.component_id = k.component_id AND m.strategy = k.strategy\n ORDER BY c.name, k.strategy;\n",
    (
        "view",
        "component_availability_24h",
    ): "-- Availability per configured component over the last 24 hourly rollups (this hour and the 23 before).\n-- Read from result_rollups_hourly, not raw results: it stays cheap however many results are kept.\n-- availability_pct counts healthy and degraded checks as up (degraded = passed, but slowly);\n-- healthy_pct counts healthy only. Both are NULL for a component without checks in the window.\n-- Checks taken in a maintenance window or silence (maintenance_checks) are left out of both fractions\n-- (and of checks_counted): planned downtime is not an outage.\nCREATE VIEW component_availability_24h AS\nWITH bounds AS (\n    SELECT CAST(((julianday('now') - 2440587.5) * 86400.0) / 3600 AS INTEGER) * 3600 - 23 * 3600\n           AS first_hour\n),\nsums AS (\n    SELECT h.component_id,\n           sum(h.total) AS checks,\n           sum(h.healthy) AS healthy,\n           sum(h.degraded) AS degraded,\n           sum(h.unhealthy) AS unhealthy,\n           sum(h.unknown) AS unknown,\n           sum(h.injected) AS injected,\n           sum(h.maintenance) AS maintenance,\n           sum(h.maintenance_up) AS maintenance_up,\n           sum(h.latency_sum_ms) AS latency_sum_ms,\n           min(h.latency_min_ms) AS latency_min_ms,\n           max(h.latency_max_ms) AS latency_max_ms\n      FROM result_rollups_hourly AS h, bounds\n     WHERE h.hour >= bounds.first_hour\n     GROUP BY h.component_id\n)\nSELECT c.name AS component,\n       coalesce(s.checks, 0) AS checks,\n       coalesce(s.healthy, 0) AS healthy,\n       coalesce(s.degraded, 0) AS degraded,\n       coalesce(s.unhealthy, 0) AS unhealthy,\n       coalesce(s.unknown, 0) AS unknown,\n       CASE WHEN coalesce(s.checks, 0) - coalesce(s.maintenance, 0) <= 0 THEN NULL\n            ELSE round(100.0 * (s.healthy + s.degraded - s.maintenance_up) / (s.checks - s.maintenance), 3)\n       END AS availability_pct,\n       CASE WHEN coalesce(s.checks, 0) - coalesce(s.maintenance, 0) <= 0 THEN NULL\n            ELSE round(100.0 * max(s.healthy - s.maintenance_up, 0) / (s.checks - s.maintenance), 3)\n       END AS healthy_pct,\n       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL\n            ELSE round(s.latency_sum_ms / s.checks, 3) END AS avg_latency_ms,\n       s.latency_min_ms AS min_latency_ms,\n       s.latency_max_ms AS max_latency_ms,\n       coalesce(s.injected, 0) AS injected,\n       coalesce(s.maintenance, 0) AS maintenance_checks,\n       strftime('%Y-%m-%dT%H:%M:%fZ', bounds.first_hour, 'unixepoch') AS since\n  FROM components AS c\n CROSS JOIN bounds\n  LEFT JOIN sums AS s ON s.component_id = c.id\n WHERE c.removed_at IS NULL\n ORDER BY c.name;\n",
    (
        "view",
        "recovery_mttr",
    ): "-- Mean time to recovery per component: seconds from a closed breaker opening to its next close.\n-- Re-opens from half-open belong to the same outage. `recoveries` counts finished outages (the mean,\n-- median, min and max are over those); `open_since` is set while an outage is still going on.\nCREATE VIEW recovery_mttr AS\nWITH outages AS (\n    SELECT o.component_id,\n           o.ts AS opened_at,\n           (SELECT min(x.ts)\n              FROM breaker_transitions AS x\n             WHERE x.component_id = o.component_id\n               AND x.to_state = 'closed'\n               AND (x.ts > o.ts OR (x.ts = o.ts AND x.id > o.id))) AS closed_at\n      FROM breaker_transitions AS o\n     WHERE o.to_state = 'open'\n       AND o.from_state = 'closed'\n),\ndurations AS (\n    SELECT component_id, closed_at, closed_at - opened_at AS seconds\n      FROM outages\n     WHERE closed_at IS NOT NULL\n),\nranked AS (\n    SELECT component_id,\n           seconds,\n           row_number() OVER (PARTITION BY component_id ORDER BY seconds) AS rn,\n           count(*) OVER (PARTITION BY component_id) AS n\n      FROM durations\n),\nmedians AS (\n    SELECT component_id, avg(seconds) AS median_s\n      FROM ranked\n     WHERE rn IN ((n + 1) / 2, (n + 2) / 2)\n     GROUP BY component_id\n),\nstats AS (\n    SELECT component_id,\n           count(*) AS recoveries,\n           avg(seconds) AS mean_s,\n           min(seconds) AS min_s,\n           max(seconds) AS max_s,\n           max(closed_at) AS last_closed_at\n      FROM durations\n     GROUP BY component_id\n),\nongoing AS (\n    SELECT component_id, max(opened_at) AS open_since\n      FROM outages\n     WHERE closed_at IS NULL\n     GROUP BY component_id\n)\nSELECT c.name AS component,\n       coalesce(s.recoveries, 0) AS recoveries,\n       round(s.mean_s, 3) AS mean_s,\n       round(m.median_s, 3) AS median_s,\n       round(s.min_s, 3) AS min_s,\n       round(s.max_s, 3) AS max_s,\n       strftime('%Y-%m-%dT%H:%M:%fZ', s.last_closed_at, 'unixepoch') AS last_recovered_at,\n       strftime('%Y-%m-%dT%H:%M:%fZ', g.open_since, 'unixepoch') AS open_since\n  FROM components AS c\n  LEFT JOIN stats AS s ON s.component_id = c.id\n  LEFT JOIN medians AS m ON m.component_id = c.id\n  LEFT JOIN ongoing AS g ON g.component_id = c.id\n WHERE s.component_id IS NOT NULL OR g.component_id IS NOT NULL\n ORDER BY c.name;\n",
    (
        "trigger",
        "breaker_transitions_no_delete",
    ): "-- History is append-only: breaker transitions are never deleted (MTTR and explanations read them).\nCREATE TRIGGER breaker_transitions_no_delete\nBEFORE DELETE ON breaker_transitions\nBEGIN\n    SELECT RAISE(ABORT, 'breaker_transitions is append-only: a recorded transition cannot be deleted');\nEND;\n",
    (
        "trigger",
        "decisions_no_delete",
    ): "-- The healer's decisions and their reasons are the explanation of what it did: never deleted.\nCREATE TRIGGER decisions_no_delete\nBEFORE DELETE ON decisions\nBEGIN\n    SELECT RAISE(ABORT, 'decisions is append-only: a recorded decision cannot be deleted');\nEND;\n",
    (
        "trigger",
        "recovery_events_no_delete",
    ): "-- History is append-only: recovery events are never deleted (budgets, MTTR and explanations read them).\nCREATE TRIGGER recovery_events_no_delete\nBEFORE DELETE ON recovery_events\nBEGIN\n    SELECT RAISE(ABORT, 'recovery_events is append-only: a recorded recovery event cannot be deleted');\nEND;\n",
}

_DAILY_BACKFILL = """
INSERT INTO result_rollups_daily
    (day, component_id, total, healthy, degraded, unhealthy, unknown, injected, maintenance, maintenance_up,
     latency_sum_ms, latency_min_ms, latency_max_ms)
SELECT hour - hour % 86400 AS day, component_id, sum(total), sum(healthy), sum(degraded), sum(unhealthy),
       sum(unknown), sum(injected), sum(maintenance), sum(maintenance_up), sum(latency_sum_ms), min(latency_min_ms), max(latency_max_ms)
  FROM result_rollups_hourly
 GROUP BY day, component_id
"""

#: The pairing the old recovery_mttr made at query time, done once: each closed→open transition with the
#: first close after it in (ts, id) order (seconds NULL while there is none yet).
_OUTAGES_BACKFILL = """
INSERT INTO breaker_outages (component_id, opened_at, closed_at, seconds)
SELECT component_id, opened_at, closed_at, closed_at - opened_at
  FROM (SELECT o.component_id,
               o.ts AS opened_at,
               (SELECT x.ts
                  FROM breaker_transitions AS x
                 WHERE x.component_id = o.component_id
                   AND x.to_state = 'closed'
                   AND (x.ts > o.ts OR (x.ts = o.ts AND x.id > o.id))
                 ORDER BY x.ts, x.id
                 LIMIT 1) AS closed_at
          FROM breaker_transitions AS o
         WHERE o.from_state = 'closed' AND o.to_state = 'open'
         ORDER BY o.ts, o.id)
"""


_MAPPED = "CASE WHEN strategy = 'fallback' AND action = 'deactivate' THEN 'failback' ELSE strategy END"

_OUTCOMES_BACKFILL = f"""
INSERT INTO recovery_outcomes (component_id, strategy, succeeded, failed, interrupted, in_progress, last_started_at)
SELECT component_id, {_MAPPED} AS mapped, sum(status = 'succeeded'), sum(status = 'failed'),
       sum(status = 'interrupted'), sum(status = 'started'), max(started_at)
  FROM recovery_events
 WHERE dry_run = 0 AND status <> 'skipped'
 GROUP BY component_id, mapped
"""

_VERIFIED_BACKFILL = f"""
INSERT INTO recovery_verified (event_id, component_id, strategy, seconds)
SELECT id, component_id, {_MAPPED}, verified_at - started_at
  FROM recovery_events
 WHERE dry_run = 0 AND status = 'succeeded' AND verified_at IS NOT NULL
"""


#: The summaries the triggers keep, computed once for the rows already there (same definitions).
_OUTAGE_STATS_BACKFILL = """
INSERT INTO breaker_outage_stats (component_id, recoveries, mean_s, median_s, min_s, max_s, last_closed_at)
WITH ranked AS (
    SELECT component_id, seconds, closed_at,
           row_number() OVER (PARTITION BY component_id ORDER BY seconds) AS rn,
           count(*) OVER (PARTITION BY component_id) AS n
      FROM breaker_outages
     WHERE seconds IS NOT NULL
)
SELECT component_id, count(*), avg(seconds),
       avg(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN seconds END),
       min(seconds), max(seconds), max(closed_at)
  FROM ranked
 GROUP BY component_id
"""

_OUTCOMES_MEDIAN_BACKFILL = """
WITH ranked AS (
    SELECT component_id, strategy, seconds,
           row_number() OVER (PARTITION BY component_id, strategy ORDER BY seconds) AS rn,
           count(*) OVER (PARTITION BY component_id, strategy) AS n
      FROM recovery_verified
),
figures AS (
    SELECT component_id, strategy, count(*) AS n,
           avg(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN seconds END) AS median_s, max(seconds) AS max_s
      FROM ranked
     GROUP BY component_id, strategy
)
UPDATE recovery_outcomes AS k
   SET verified = f.n, median_to_verified_s = f.median_s, max_to_verified_s = f.max_s
  FROM figures AS f
 WHERE f.component_id = k.component_id AND f.strategy = k.strategy
"""


def upgrade() -> None:
    bind = op.get_bind()
    schema_sql.drop(bind)
    op.create_table(
        "result_rollups_daily",
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        *[
            sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)
            for name in (
                "total",
                "healthy",
                "degraded",
                "unhealthy",
                "unknown",
                "injected",
                "maintenance",
                "maintenance_up",
            )
        ],
        sa.Column("latency_sum_ms", sa.REAL(), server_default=sa.text("0"), nullable=False),
        sa.Column("latency_min_ms", sa.REAL(), nullable=True),
        sa.Column("latency_max_ms", sa.REAL(), nullable=True),
        sa.CheckConstraint("day % 86400 = 0", name=op.f("ck_result_rollups_daily_day_aligned")),
        sa.CheckConstraint(
            "total = healthy + degraded + unhealthy + unknown", name=op.f("ck_result_rollups_daily_counts_add_up")
        ),
        sa.CheckConstraint("injected <= total", name=op.f("ck_result_rollups_daily_injected_within_total")),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_result_rollups_daily_component_id_components")
        ),
        sa.PrimaryKeyConstraint("day", "component_id", name=op.f("pk_result_rollups_daily")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_result_rollups_daily_component_id"), "result_rollups_daily", ["component_id"])
    op.create_table(
        "breaker_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.REAL(), nullable=False),
        sa.Column("closed_at", sa.REAL(), nullable=True),
        sa.Column("seconds", sa.REAL(), nullable=True),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_breaker_outages_component_id_components")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaker_outages")),
    )
    op.create_index(
        op.f("ix_breaker_outages_component_id_seconds_closed_at"),
        "breaker_outages",
        ["component_id", "seconds", "closed_at"],
    )
    op.create_table(
        "retention_horizon",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("history_before", sa.REAL(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_retention_horizon_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_horizon")),
    )
    bind.exec_driver_sql("INSERT INTO retention_horizon (id, history_before) VALUES (1, NULL)")
    op.create_table(
        "recovery_outcomes",
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        *[
            sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)
            for name in ("succeeded", "failed", "interrupted", "in_progress")
        ],
        sa.Column("last_started_at", sa.REAL(), nullable=True),
        sa.Column("verified", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("median_to_verified_s", sa.REAL(), nullable=True),
        sa.Column("max_to_verified_s", sa.REAL(), nullable=True),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_recovery_outcomes_component_id_components")
        ),
        sa.PrimaryKeyConstraint("component_id", "strategy", name=op.f("pk_recovery_outcomes")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "recovery_verified",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("seconds", sa.REAL(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_recovery_verified_component_id_components")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_recovery_verified")),
    )
    op.create_index(
        op.f("ix_recovery_verified_component_id_strategy_seconds"),
        "recovery_verified",
        ["component_id", "strategy", "seconds"],
    )
    op.create_table(
        "breaker_outage_stats",
        sa.Column("component_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recoveries", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("mean_s", sa.REAL(), nullable=True),
        sa.Column("median_s", sa.REAL(), nullable=True),
        sa.Column("min_s", sa.REAL(), nullable=True),
        sa.Column("max_s", sa.REAL(), nullable=True),
        sa.Column("last_closed_at", sa.REAL(), nullable=True),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_breaker_outage_stats_component_id_components")
        ),
        sa.PrimaryKeyConstraint("component_id", name=op.f("pk_breaker_outage_stats")),
    )
    op.create_index(
        "ix_check_results_failures_ts",
        "check_results",
        ["ts"],
        sqlite_where=sa.text("status IN ('unhealthy', 'unknown')"),
    )
    bind.exec_driver_sql(_DAILY_BACKFILL)
    bind.exec_driver_sql(_OUTAGES_BACKFILL)
    bind.exec_driver_sql(_OUTAGE_STATS_BACKFILL)
    bind.exec_driver_sql(_OUTCOMES_BACKFILL)
    bind.exec_driver_sql(_VERIFIED_BACKFILL)
    bind.exec_driver_sql(_OUTCOMES_MEDIAN_BACKFILL)
    schema_sql.apply(bind)


def downgrade() -> None:
    bind = op.get_bind()
    schema_sql.drop(bind)
    op.drop_index("ix_check_results_failures_ts", table_name="check_results")
    op.drop_table("breaker_outage_stats")
    op.drop_table("recovery_verified")
    op.drop_table("recovery_outcomes")
    op.drop_table("retention_horizon")
    op.drop_table("breaker_outages")
    op.drop_table("result_rollups_daily")
    tables = {row[0] for row in bind.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for kind in schema_sql.KINDS:
        for name, path in schema_sql.files(kind).items():
            if (kind, name) in _NEW or (kind == "view" and name in tables):
                continue
            bind.exec_driver_sql(OLD_SQL.get((kind, name)) or path.read_text(encoding="utf-8"))

"""Availability views that read each component's days in key order (issue 11).

- `result_rollups_daily` is keyed (component_id, day) instead of (day, component_id), still without
  rowid: a component's days are now adjacent rows, so the 7- and 30-day views range-scan each
  component's own days in order and aggregate them without sorting the window's rows (the 30 days'
  part measured ~1.7x cheaper than range-scanning the day key and grouping through a temporary
  B-tree; the whole 30-day view ~1.3x, bench/views.py). `ix_..._day`
  serves retention's `day < cutoff` deletes; the (component_id) index the foreign key had is now the
  primary key's prefix.
- The 7- and 30-day views aggregate the first, partial day's hours and each component's whole days
  separately, then add the two (at most 2 rows per component) — same columns, same window, same rules
  as before. `component_availability_24h` does not change: its 24 hourly rows per component by the
  (hour, component_id) key measured the same as today's daily row plus yesterday's hours at 06:00 UTC,
  and that form would cost more just after midnight (23 hourly rows plus adding the parts).

Revision ID: 0013
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0013"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS = ("total", "healthy", "degraded", "unhealthy", "unknown", "injected", "maintenance", "maintenance_up")
_COLUMNS = ", ".join(("day", "component_id", *_COUNTERS, "latency_sum_ms", "latency_min_ms", "latency_max_ms"))

#: The views this revision changes, as revision 0009 had them (what a downgrade puts back).
OLD_SQL: dict[tuple[str, str], str] = {
    (
        "view",
        "component_availability_7d",
    ): """-- Availability per configured component over the last 7 days (this hour and the 167 before).
-- Same columns and rules as component_availability_24h. Whole UTC days come from result_rollups_daily
-- (kept from the hourly rollups by triggers) and only the window's first, partial day from the hourly
-- rollups, so the view reads at most 7 daily + 23 hourly rows per component (issue 11).
CREATE VIEW component_availability_7d AS
WITH bounds AS (
    SELECT first_hour, (first_hour + 86399) / 86400 * 86400 AS first_day
      FROM (SELECT CAST(((julianday('now') - 2440587.5) * 86400.0) / 3600 AS INTEGER) * 3600 - 167 * 3600
                   AS first_hour)
),
parts AS (
    SELECT h.component_id, h.total, h.healthy, h.degraded, h.unhealthy, h.unknown, h.injected, h.maintenance, h.maintenance_up,
           h.latency_sum_ms, h.latency_min_ms, h.latency_max_ms
      FROM bounds
     CROSS JOIN result_rollups_hourly AS h
     WHERE h.hour >= bounds.first_hour AND h.hour < bounds.first_day
    UNION ALL
    SELECT d.component_id, d.total, d.healthy, d.degraded, d.unhealthy, d.unknown, d.injected, d.maintenance, d.maintenance_up,
           d.latency_sum_ms, d.latency_min_ms, d.latency_max_ms
      FROM bounds
     CROSS JOIN result_rollups_daily AS d
     WHERE d.day >= bounds.first_day
),
sums AS (
    SELECT component_id,
           sum(total) AS checks,
           sum(healthy) AS healthy,
           sum(degraded) AS degraded,
           sum(unhealthy) AS unhealthy,
           sum(unknown) AS unknown,
           sum(injected) AS injected,
           sum(maintenance) AS maintenance,
           sum(maintenance_up) AS maintenance_up,
           sum(latency_sum_ms) AS latency_sum_ms,
           min(latency_min_ms) AS latency_min_ms,
           max(latency_max_ms) AS latency_max_ms
      FROM parts
     GROUP BY component_id
)
SELECT c.name AS component,
       coalesce(s.checks, 0) AS checks,
       coalesce(s.healthy, 0) AS healthy,
       coalesce(s.degraded, 0) AS degraded,
       coalesce(s.unhealthy, 0) AS unhealthy,
       coalesce(s.unknown, 0) AS unknown,
       CASE WHEN coalesce(s.checks, 0) - coalesce(s.maintenance, 0) <= 0 THEN NULL
            ELSE round(100.0 * (s.healthy + s.degraded - s.maintenance_up) / (s.checks - s.maintenance), 3)
       END AS availability_pct,
       CASE WHEN coalesce(s.checks, 0) - coalesce(s.maintenance, 0) <= 0 THEN NULL
            ELSE round(100.0 * max(s.healthy - s.maintenance_up, 0) / (s.checks - s.maintenance), 3)
       END AS healthy_pct,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE round(s.latency_sum_ms / s.checks, 3) END AS avg_latency_ms,
       s.latency_min_ms AS min_latency_ms,
       s.latency_max_ms AS max_latency_ms,
       coalesce(s.injected, 0) AS injected,
       coalesce(s.maintenance, 0) AS maintenance_checks,
       strftime('%Y-%m-%dT%H:%M:%fZ', bounds.first_hour, 'unixepoch') AS since
  FROM components AS c
 CROSS JOIN bounds
  LEFT JOIN sums AS s ON s.component_id = c.id
 WHERE c.removed_at IS NULL
 ORDER BY c.name;
""",
    (
        "view",
        "component_availability_30d",
    ): """-- Availability per configured component over the last 30 days (this hour and the 719 before).
-- Same columns and rules as component_availability_24h. Whole UTC days come from result_rollups_daily
-- (kept from the hourly rollups by triggers) and only the window's first, partial day from the hourly
-- rollups, so the view reads at most 30 daily + 23 hourly rows per component (issue 11).
CREATE VIEW component_availability_30d AS
WITH bounds AS (
    SELECT first_hour, (first_hour + 86399) / 86400 * 86400 AS first_day
      FROM (SELECT CAST(((julianday('now') - 2440587.5) * 86400.0) / 3600 AS INTEGER) * 3600 - 719 * 3600
                   AS first_hour)
),
parts AS (
    SELECT h.component_id, h.total, h.healthy, h.degraded, h.unhealthy, h.unknown, h.injected, h.maintenance, h.maintenance_up,
           h.latency_sum_ms, h.latency_min_ms, h.latency_max_ms
      FROM bounds
     CROSS JOIN result_rollups_hourly AS h
     WHERE h.hour >= bounds.first_hour AND h.hour < bounds.first_day
    UNION ALL
    SELECT d.component_id, d.total, d.healthy, d.degraded, d.unhealthy, d.unknown, d.injected, d.maintenance, d.maintenance_up,
           d.latency_sum_ms, d.latency_min_ms, d.latency_max_ms
      FROM bounds
     CROSS JOIN result_rollups_daily AS d
     WHERE d.day >= bounds.first_day
),
sums AS (
    SELECT component_id,
           sum(total) AS checks,
           sum(healthy) AS healthy,
           sum(degraded) AS degraded,
           sum(unhealthy) AS unhealthy,
           sum(unknown) AS unknown,
           sum(injected) AS injected,
           sum(maintenance) AS maintenance,
           sum(maintenance_up) AS maintenance_up,
           sum(latency_sum_ms) AS latency_sum_ms,
           min(latency_min_ms) AS latency_min_ms,
           max(latency_max_ms) AS latency_max_ms
      FROM parts
     GROUP BY component_id
)
SELECT c.name AS component,
       coalesce(s.checks, 0) AS checks,
       coalesce(s.healthy, 0) AS healthy,
       coalesce(s.degraded, 0) AS degraded,
       coalesce(s.unhealthy, 0) AS unhealthy,
       coalesce(s.unknown, 0) AS unknown,
       CASE WHEN coalesce(s.checks, 0) - coalesce(s.maintenance, 0) <= 0 THEN NULL
            ELSE round(100.0 * (s.healthy + s.degraded - s.maintenance_up) / (s.checks - s.maintenance), 3)
       END AS availability_pct,
       CASE WHEN coalesce(s.checks, 0) - coalesce(s.maintenance, 0) <= 0 THEN NULL
            ELSE round(100.0 * max(s.healthy - s.maintenance_up, 0) / (s.checks - s.maintenance), 3)
       END AS healthy_pct,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE round(s.latency_sum_ms / s.checks, 3) END AS avg_latency_ms,
       s.latency_min_ms AS min_latency_ms,
       s.latency_max_ms AS max_latency_ms,
       coalesce(s.injected, 0) AS injected,
       coalesce(s.maintenance, 0) AS maintenance_checks,
       strftime('%Y-%m-%dT%H:%M:%fZ', bounds.first_hour, 'unixepoch') AS since
  FROM components AS c
 CROSS JOIN bounds
  LEFT JOIN sums AS s ON s.component_id = c.id
 WHERE c.removed_at IS NULL
 ORDER BY c.name;
""",
}


def _daily_table(name: str, key: tuple[str, str]) -> None:
    """result_rollups_daily's shape (as 0007 made it) under `name`, keyed by `key`; constraint names are
    the final table's, so they stay right after the rename."""
    op.create_table(
        name,
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        *[sa.Column(c, sa.BigInteger(), server_default=sa.text("0"), nullable=False) for c in _COUNTERS],
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
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_result_rollups_daily")),
        sqlite_with_rowid=False,
    )


def _rekey(key: tuple[str, str]) -> None:
    """Copy result_rollups_daily into a table keyed by `key` (rows in key order: a compact B-tree) and
    put it in the old one's place. Views and triggers must be out of the way (they name the table)."""
    bind = op.get_bind()
    _daily_table("result_rollups_daily_rekeyed", key)
    bind.exec_driver_sql(
        f"INSERT INTO result_rollups_daily_rekeyed ({_COLUMNS}) "
        f"SELECT {_COLUMNS} FROM result_rollups_daily ORDER BY {', '.join(key)}"
    )
    op.drop_table("result_rollups_daily")  # and its indexes
    op.rename_table("result_rollups_daily_rekeyed", "result_rollups_daily")


def upgrade() -> None:
    bind = op.get_bind()
    schema_sql.drop(bind)
    _rekey(("component_id", "day"))
    op.create_index(op.f("ix_result_rollups_daily_day"), "result_rollups_daily", ["day"])
    schema_sql.apply(bind)


def downgrade() -> None:
    bind = op.get_bind()
    schema_sql.drop(bind)
    _rekey(("day", "component_id"))
    op.create_index(op.f("ix_result_rollups_daily_component_id"), "result_rollups_daily", ["component_id"])
    tables = {row[0] for row in bind.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for kind in schema_sql.KINDS:
        for name, path in schema_sql.files(kind).items():
            if kind == "view" and name in tables:
                continue
            bind.exec_driver_sql(OLD_SQL.get((kind, name)) or path.read_text(encoding="utf-8"))

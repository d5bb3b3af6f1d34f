"""`result_rollups_mark`: the hourly rollups are folded from raw results every few seconds (issue 11).

Until now the writer upserted each batch's rollup rows in the batch's own transaction. At 200 checks a
second a batch holds one result per component, so that was one upsert (and one daily-rollup trigger)
per result, ~6 % of the daemon's CPU per check. From this revision the writer inserts raw results
batch by batch and folds everything above the mark into the rollups every 10 s, moving the mark in
the same transaction (daemon/store/results_sql.py). At upgrade every existing result is already in the
rollups, so the mark starts at the newest result's id.

A downgrade first folds what is above the mark (an older healerd expects every committed result to be
in the rollups already), then drops the table.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: results_sql.FOLD_ROLLUPS as this revision has it (a migration must not change when the code does).
_FOLD = """
INSERT INTO result_rollups_hourly
    (hour, component_id, total, healthy, degraded, unhealthy, unknown, injected,
     latency_sum_ms, latency_min_ms, latency_max_ms, maintenance, maintenance_up)
SELECT CAST(ts AS INTEGER) / 3600 * 3600, component_id, count(*),
       sum(status = 'healthy'), sum(status = 'degraded'), sum(status = 'unhealthy'), sum(status = 'unknown'),
       sum(injected), total(latency_ms), min(latency_ms), max(latency_ms),
       sum(maintenance), sum(maintenance AND status IN ('healthy', 'degraded'))
  FROM check_results
 WHERE id > (SELECT result_id FROM result_rollups_mark WHERE id = 1)
 GROUP BY 1, 2
ON CONFLICT (hour, component_id) DO UPDATE SET
    total = total + excluded.total,
    healthy = healthy + excluded.healthy,
    degraded = degraded + excluded.degraded,
    unhealthy = unhealthy + excluded.unhealthy,
    unknown = unknown + excluded.unknown,
    injected = injected + excluded.injected,
    maintenance = maintenance + excluded.maintenance,
    maintenance_up = maintenance_up + excluded.maintenance_up,
    latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
    latency_min_ms = min(coalesce(latency_min_ms, excluded.latency_min_ms), excluded.latency_min_ms),
    latency_max_ms = max(coalesce(latency_max_ms, excluded.latency_max_ms), excluded.latency_max_ms)
"""


def upgrade() -> None:
    op.create_table(
        "result_rollups_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", _ID, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_result_rollups_mark_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_rollups_mark")),
    )
    op.execute("INSERT INTO result_rollups_mark (id, result_id) SELECT 1, coalesce(max(id), 0) FROM check_results")


def downgrade() -> None:
    op.execute(_FOLD)
    op.drop_table("result_rollups_mark")

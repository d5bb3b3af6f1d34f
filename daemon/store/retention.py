"""Retention: delete what is older than `[retention]` allows, a small batch at a time.

Uptime Kuma's users' first complaint is database growth; Gatus caps raw results and drops old
rollups. healerd keeps raw results for `raw_results` (7 days), hourly rollups for `rollups` (400
days, so a year-over-year availability still answers), finished history for `history`, and health
snapshots for `snapshots`.

Each batch is one `DELETE … WHERE key IN (SELECT key … LIMIT batch)` submitted through the single
writer as its own call, so it shares one short transaction with whatever results are queued and the
next batch waits behind them: a prune of millions of rows never holds the write lock for long and
never stalls result writes. `prune()` is what the scheduler calls every `prune_every`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from daemon.clock import SYSTEM_CLOCK, Clock
from daemon.config.models import Retention
from daemon.errors import StoreError
from daemon.store.results_sql import hour_of
from daemon.store.writer import Writer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Rule:
    """Rows of `table` whose `time_column` is older than the `keep` setting, and `only` holds, go.

    `only` keeps rows that still matter whatever their age: intent without an outcome, pending
    commands, unresolved config errors. Only leaf tables are pruned (nothing references their rows),
    so a delete can never fail a foreign key; incidents, chaos runs and checkpoints stay.
    """

    table: str
    time_column: str
    keep: str  # the Retention field
    only: str = ""
    key: tuple[str, ...] = ("id",)

    def delete_sql(self, protect: str | None = None) -> str:
        condition = f"{self.time_column} < :cutoff" + (f" AND ({self.only})" if self.only else "")
        if protect:  # fleet mode: rows not shipped yet stay (store/fleet_sql.py unshipped_guard)
            condition += f" AND ({protect})"
        # No ORDER BY: with an index on the time column SQLite walks that index; without one it walks
        # the table in rowid order (oldest first) and stops after `limit` matches. Either way one batch
        # touches about `limit` rows.
        columns = ", ".join(self.key)
        target = columns if len(self.key) == 1 else f"({columns})"
        return (
            f"DELETE FROM {self.table} WHERE {target} IN "
            f"(SELECT {columns} FROM {self.table} WHERE {condition} LIMIT :limit)"
        )


#: Not here on purpose: breaker_transitions, decisions, degradation_history and recovery_events. The
#: schema makes them append-only (BEFORE DELETE triggers: MTTR, budgets and explanations read them),
#: so `[retention] history` applies only to the history tables below until the schema says otherwise.
RULES: tuple[Rule, ...] = (
    Rule("check_results", "ts", "raw_results"),
    # An hour's row goes only once the whole hour is older than the cutoff (see `cutoff_for`).
    Rule("result_rollups_hourly", "hour", "rollups", key=("hour", "component_id")),
    Rule("escalations", "created_at", "history", only="status <> 'pending'"),
    Rule("chaos_events", "ts", "history"),
    Rule("operator_commands", "created_at", "history", only="status <> 'pending'"),
    Rule("config_errors", "ts", "history", only="resolved_at IS NOT NULL"),
    Rule("health_snapshots", "ts", "snapshots"),
)


def cutoff_for(rule: Rule, retention: Retention, now: float) -> float:
    keep: timedelta = getattr(retention, rule.keep)
    cutoff = now - keep.total_seconds()
    if rule.time_column == "hour":
        # Hours are aligned, so `hour < start of the cutoff's hour` ⇔ the hour ended by the cutoff.
        return hour_of(cutoff)
    return cutoff


def delete_batch(conn: sqlite3.Connection, rule: Rule, cutoff: float, limit: int, protect: str | None = None) -> int:
    """One batch, inside the writer's transaction; returns how many rows went."""
    return conn.execute(rule.delete_sql(protect), {"cutoff": cutoff, "limit": limit}).rowcount


async def prune(
    writer: Writer,
    retention: Retention,
    *,
    now: float | None = None,
    clock: Clock = SYSTEM_CLOCK,
    batch: int | None = None,
    rules: tuple[Rule, ...] = RULES,
    protect: Callable[[str], str | None] | None = None,
) -> dict[str, int]:
    """Delete everything past retention, one batch per writer transaction; returns rows per table.

    Ages are measured from `now` (wall-clock seconds), or from `clock.wall()` when it is not given.
    `protect(table)` adds a condition rows must also meet to go (fleet mode: already shipped).

    A rule that fails (a bug, a schema surprise) is logged and skipped so the others still run; a
    writer that stops mid-prune ends it early. What is left is picked up by the next run.
    """
    limit = batch or retention.prune_batch
    now = clock.wall() if now is None else now
    deleted: dict[str, int] = {}
    for rule in rules:
        cutoff = cutoff_for(rule, retention, now)
        guard = protect(rule.table) if protect is not None else None
        total = 0
        try:
            while True:
                n = await writer.submit(lambda conn, r=rule, c=cutoff, g=guard: delete_batch(conn, r, c, limit, g))
                total += n
                if n < limit:
                    break
                await asyncio.sleep(0)  # let the loop run between batches
        except StoreError as exc:
            log.warning("retention.stopped", table=rule.table, deleted=total, error=str(exc))
            deleted[rule.table] = total
            break
        except sqlite3.Error as exc:
            log.error("retention.rule_failed", table=rule.table, deleted=total, error=str(exc))
        deleted[rule.table] = total
    if any(deleted.values()):
        log.info("retention.pruned", **{k: v for k, v in deleted.items() if v})
    return deleted

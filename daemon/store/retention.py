"""Retention: delete what is older than `[retention]` allows, a small batch at a time.

Uptime Kuma's users' first complaint is database growth; Gatus caps raw results and drops old
rollups. healerd keeps raw results for `raw_results` (7 days), hourly rollups for `rollups` (400
days, so a year-over-year availability still answers), finished history for `history`, and health
snapshots for `snapshots`.

The append-only history (breaker_transitions, decisions, recovery_events) is guarded by BEFORE DELETE
triggers. Pruning is their one sanctioned way through (issue 11): in the same writer transaction as each
batch it writes its cutoff to `retention_horizon`, deletes, and clears it again; the triggers let a
delete pass only for a row older than that horizon and not part of an open incident (nor, for
transitions, of a component whose breaker is not closed), so any other delete is still refused and a
crash mid-batch rolls the horizon back with the batch. The rules' conditions below mirror the triggers',
so a batch never trips them.

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
from functools import partial

import structlog

from daemon.clock import SYSTEM_CLOCK, Clock
from daemon.config.models import Retention
from daemon.errors import StoreError
from daemon.store.results_sql import LOWER_MARK, fold_rollups, hour_of
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
    #: an append-only table: its batch runs with `retention_horizon` set (see the module docstring).
    guarded: bool = False
    #: check_results: rows are counted into the hourly rollups before they go, and the rollups' mark
    #: comes down if the newest rows went (results_sql.LOWER_MARK says why).
    folded: bool = False

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


#: No open incident for the row's component (the transitions of an outage in progress all stay).
_NO_OPEN_INCIDENT_OF_COMPONENT = (
    "NOT EXISTS (SELECT 1 FROM incidents AS i WHERE i.component_id = {t}.component_id AND i.status = 'open')"
)
#: The row's own incident, if any, is not open.
_NOT_IN_OPEN_INCIDENT = "NOT EXISTS (SELECT 1 FROM incidents AS i WHERE i.id = {t}.incident_id AND i.status = 'open')"

#: Not here on purpose: breaker_outages and the summaries (a trigger prunes an outage with the transition
#: that opened it, and the triggers keep the summaries in step with what stays); degradation_history (append-only, one row per level change: small) and incidents
#: (referenced by escalations, ladder and fallback state; one row per outage, and no view scans them all).
RULES: tuple[Rule, ...] = (
    Rule("check_results", "ts", "raw_results", folded=True),
    # An hour's row goes only once the whole hour is older than the cutoff (see `cutoff_for`).
    Rule("result_rollups_hourly", "hour", "rollups", key=("hour", "component_id")),
    Rule("result_rollups_daily", "day", "rollups", key=("day", "component_id")),
    Rule("escalations", "created_at", "history", only="status <> 'pending'"),
    Rule("chaos_events", "ts", "history"),
    Rule("operator_commands", "created_at", "history", only="status <> 'pending'"),
    Rule("config_errors", "ts", "history", only="resolved_at IS NOT NULL"),
    Rule("health_snapshots", "ts", "snapshots"),
    Rule(
        "breaker_transitions",
        "ts",
        "history",
        guarded=True,
        only=_NO_OPEN_INCIDENT_OF_COMPONENT.format(t="breaker_transitions")
        + " AND NOT EXISTS (SELECT 1 FROM breakers AS b"
        " WHERE b.component_id = breaker_transitions.component_id AND b.state <> 'closed')",
    ),
    Rule("decisions", "ts", "history", guarded=True, only=_NOT_IN_OPEN_INCIDENT.format(t="decisions")),
    Rule(
        "recovery_events",
        "started_at",
        "history",
        guarded=True,
        only="status <> 'started' AND " + _NOT_IN_OPEN_INCIDENT.format(t="recovery_events"),
    ),
)

#: Written and cleared around a guarded batch, inside the same transaction.
_SET_HORIZON = (
    "INSERT INTO retention_horizon (id, history_before) VALUES (1, :cutoff) "
    "ON CONFLICT (id) DO UPDATE SET history_before = excluded.history_before"
)
_CLEAR_HORIZON = "UPDATE retention_horizon SET history_before = NULL WHERE id = 1"


def cutoff_for(rule: Rule, retention: Retention, now: float) -> float:
    keep: timedelta = getattr(retention, rule.keep)
    cutoff = now - keep.total_seconds()
    if rule.time_column == "hour":
        # Hours are aligned, so `hour < start of the cutoff's hour` ⇔ the hour ended by the cutoff.
        return hour_of(cutoff)
    if rule.time_column == "day":
        return int(cutoff // 86400) * 86400  # likewise for whole UTC days
    return cutoff


def _delete_batch_at(conn: sqlite3.Connection, *, rule: Rule, cutoff: float, limit: int, protect: str | None) -> int:
    return delete_batch(conn, rule, cutoff, limit, protect)


def delete_batch(conn: sqlite3.Connection, rule: Rule, cutoff: float, limit: int, protect: str | None = None) -> int:
    """One batch, inside the writer's transaction; returns how many rows went."""
    if rule.folded:
        fold_rollups(conn)
        deleted = conn.execute(rule.delete_sql(protect), {"cutoff": cutoff, "limit": limit}).rowcount
        conn.execute(LOWER_MARK)
        return deleted
    if not rule.guarded:
        return conn.execute(rule.delete_sql(protect), {"cutoff": cutoff, "limit": limit}).rowcount
    conn.execute(_SET_HORIZON, {"cutoff": cutoff})
    try:
        return conn.execute(rule.delete_sql(protect), {"cutoff": cutoff, "limit": limit}).rowcount
    finally:
        conn.execute(_CLEAR_HORIZON)


def optimize(conn: sqlite3.Connection) -> None:
    """`PRAGMA optimize` on the writer's long-lived connection, bounded by `analysis_limit`.

    SQLite recommends it for long-lived connections, run periodically (pragma.html#pragma_optimize: "perhaps
    once per day or once per hour") with `PRAGMA analysis_limit=400` first so any ANALYZE it decides to
    run samples instead of reading a 10 M-row table (lang_analyze.html, "Applications with long-lived
    databases..."). It is usually a no-op; when it does analyze, the planner gets statistics.
    """
    conn.execute("PRAGMA analysis_limit=400")
    conn.execute("PRAGMA optimize").fetchall()


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
                n = await writer.submit(partial(_delete_batch_at, rule=rule, cutoff=cutoff, limit=limit, protect=guard))
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


async def optimize_before_close(writer: Writer, timeout: float = 2.0) -> None:
    """`optimize()` just before the writer's connection closes, as SQLite advises (lang_analyze.html).

    Bounded: a busy or unavailable database never delays a stop by more than `timeout`; failing is only
    logged (the statistics are an optimisation, the stop is not).
    """
    try:
        async with asyncio.timeout(timeout):
            await writer.submit(optimize)
    except (TimeoutError, StoreError, sqlite3.Error) as exc:
        log.warning("retention.optimize_failed", error=str(exc) or type(exc).__name__)


async def prune_and_optimize(
    writer: Writer,
    retention: Retention,
    *,
    now: float | None = None,
    protect: Callable[[str], str | None] | None = None,
) -> dict[str, int]:
    """What the daemon runs every `prune_every`: `prune()`, then `optimize()` on the writer's connection.

    After the deletes, so statistics describe what stays. A failed optimize is logged, never fatal.
    """
    deleted = await prune(writer, retention, now=now, protect=protect)
    try:
        await writer.submit(optimize)
    except (StoreError, sqlite3.Error) as exc:
        log.warning("retention.optimize_failed", error=str(exc))
    return deleted

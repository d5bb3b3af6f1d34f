"""How check results become rows: raw results, and the hourly rollups they are folded into.

The writer inserts each batch's raw results (`insert_results`) and folds them into the hourly rollups
every few seconds (`fold_rollups`), not in every batch: at 200 checks a second a batch holds one result
per component, so folding per batch cost an upsert (and a daily-rollup trigger) per result, ~6 % of the
daemon's CPU per check (issue 11); folding every 10 s upserts each component's hour once for ten
results. The fold is exact and happens once: `result_rollups_mark` says up to which result id the
rollups count, and moves in the fold's own transaction (Gatus writes the result and the uptime row in
one transaction for the same reason: a crash must never count a result twice or drop it). The fold
aggregates in SQLite's C, grouped by the rollup key (hour, component_id), ~15x cheaper to upsert than
the reverse order (the reference's measurement).

One-shot writers (tests, benches, imports) call `write_results`, which inserts and folds at once.
Every function here runs inside the caller's open transaction; none of them commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from daemon.types import CheckResult, Status

INSERT_RESULT = (
    "INSERT INTO check_results (component_id, ts, status, latency_ms, error_class, message, injected, perfdata, "
    "maintenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

#: Adds a batch's counts to the hour's row. Unqualified columns in DO UPDATE are the stored row's;
#: min/max are NULL-safe because a stored row written by hand (or a future migration) may lack them.
UPSERT_ROLLUP = """
INSERT INTO result_rollups_hourly
    (hour, component_id, total, healthy, degraded, unhealthy, unknown, injected,
     latency_sum_ms, latency_min_ms, latency_max_ms, maintenance, maintenance_up)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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

#: Index of each status's counter in an aggregate group (see `aggregate_rollups`' layout).
_STATUS_SLOT: dict[str, int] = {Status.HEALTHY: 3, Status.DEGRADED: 4, Status.UNHEALTHY: 5, Status.UNKNOWN: 6}
# (a plain "healthy" finds Status.HEALTHY: a str-mixin member hashes and compares as its value)

Row = tuple[int, float, str, float, "str | None", str, int, "str | None", int]
_UP = frozenset({"healthy", "degraded"})


def hour_of(ts: float) -> int:
    """Epoch seconds of the start of the UTC hour containing `ts` (the rollup key)."""
    return int(ts // 3600) * 3600


def result_row(result: CheckResult, component_id: int) -> Row:
    """The check_results parameters for one result (status as its text value, injected as 0/1)."""
    status = result.status.value if isinstance(result.status, Status) else str(result.status)
    if status not in _STATUS_SLOT:
        raise ValueError(f"{status!r} is not a check status")
    return (
        component_id,
        float(result.ts),
        status,
        float(result.latency_ms),
        result.error_class,
        result.message,
        1 if result.injected else 0,
        result.perfdata,
        1 if result.maintenance else 0,
    )


def aggregate_rollups(rows: Iterable[Row]) -> list[tuple]:
    """One UPSERT_ROLLUP parameter tuple per (hour, component) present in `rows`.

    The writer no longer calls this (it folds in SQL, `FOLD_ROLLUPS`): it is the per-batch form the
    writer used until migration 0014, kept as the oracle the fold is tested against
    (tests/store/test_rollup_fold.py) and as the benches' reference. Every result counts in the latency figures, failures included: a timeout's latency is the
    timeout, which is what an operator wants to see next to the failure count.
    """
    # group layout = UPSERT_ROLLUP's parameters: hour, component_id, total, healthy, degraded,
    # unhealthy, unknown, injected, latency sum, min, max, maintenance, maintenance_up
    groups: dict[tuple[int, int], list] = {}
    for component_id, ts, status, latency, _error, _message, injected, _perfdata, maintenance in rows:
        key = (int(ts // 3600) * 3600, component_id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = [key[0], component_id, 0, 0, 0, 0, 0, 0, 0.0, latency, latency, 0, 0]
        if maintenance:
            group[11] += 1
            group[12] += status in _UP
        group[2] += 1
        group[_STATUS_SLOT[status]] += 1
        group[7] += injected
        group[8] += latency
        if latency < group[9]:
            group[9] = latency
        if latency > group[10]:
            group[10] = latency
    return [tuple(g) for g in groups.values()]


def insert_results(conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Insert the raw rows only; `fold_rollups` counts them into the rollups later."""
    if rows:
        conn.executemany(INSERT_RESULT, rows)


def write_results(conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Insert the raw rows and fold everything not yet in the hourly rollups (caller holds the transaction)."""
    insert_results(conn, rows)
    fold_rollups(conn)


#: The results above the mark, aggregated per rollup key, added to the hourly rows (same rules as
#: `aggregate_rollups`: every result counts in the latency figures; maintenance ones that passed count
#: in maintenance_up). `CAST(ts AS INTEGER) / 3600 * 3600` is `hour_of(ts)` for any ts after 1970.
FOLD_ROLLUPS = UPSERT_ROLLUP.replace(
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    """SELECT CAST(ts AS INTEGER) / 3600 * 3600, component_id, count(*),
       sum(status = 'healthy'), sum(status = 'degraded'), sum(status = 'unhealthy'), sum(status = 'unknown'),
       sum(injected), total(latency_ms), min(latency_ms), max(latency_ms),
       sum(maintenance), sum(maintenance AND status IN ('healthy', 'degraded'))
  FROM check_results
 WHERE id > :after AND id <= :upto
 GROUP BY 1, 2""",
)
_MARK = "SELECT result_id FROM result_rollups_mark WHERE id = 1"
_SET_MARK = (
    "INSERT INTO result_rollups_mark (id, result_id) VALUES (1, :upto) "
    "ON CONFLICT (id) DO UPDATE SET result_id = excluded.result_id"
)


def fold_rollups(conn: sqlite3.Connection) -> bool:
    """Count every result above the mark into the hourly rollups and move the mark; False: none was.

    Cheap when nothing is above the mark (two index lookups), so callers fold whenever they like.
    """
    found = conn.execute(_MARK).fetchone()
    after = int(found[0]) if found is not None else 0
    (upto,) = conn.execute("SELECT max(id) FROM check_results").fetchone()
    if upto is None or upto <= after:
        return False
    conn.execute(FOLD_ROLLUPS, {"after": after, "upto": upto})
    conn.execute(_SET_MARK, {"upto": upto})
    return True


#: After rows of check_results were deleted: if the newest ones went, SQLite would hand their ids out
#: again (rowids are max + 1), below the mark, and those results would never be folded. Every row left
#: is at or below the mark (retention deletes only folded rows), so the mark can come down to the
#: largest id left, or 0.
LOWER_MARK = (
    "UPDATE result_rollups_mark SET result_id = coalesce((SELECT max(id) FROM check_results), 0) "
    "WHERE id = 1 AND result_id > coalesce((SELECT max(id) FROM check_results), 0)"
)


def component_id(conn: sqlite3.Connection, name: str) -> int | None:
    """The id of the component called `name`, or None when the config never declared it."""
    found = conn.execute("SELECT id FROM components WHERE name = ?", (name,)).fetchone()
    return None if found is None else int(found[0])

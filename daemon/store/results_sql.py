"""How a batch of check results becomes rows: raw results plus the hourly rollups, in one transaction.

Gatus writes the result and upserts the uptime row in one transaction, so a report never sees one
without the other; healerd does the same. The rollup is aggregated per (hour, component) in Python
first and upserted once per group: a batch of 1,000 results from 50 components costs 50 upserts, not
1,000. The key order (hour, component_id) is the table's primary key, which the reference measured as
~15x cheaper to upsert than the reverse.

Every function here runs on the writer's thread inside its open transaction; none of them commits.
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

    Every result counts in the latency figures, failures included: a timeout's latency is the
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


def write_results(conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Insert the raw rows and fold them into the hourly rollups (caller holds the transaction)."""
    if not rows:
        return
    conn.executemany(INSERT_RESULT, rows)
    conn.executemany(UPSERT_ROLLUP, aggregate_rollups(rows))


def component_id(conn: sqlite3.Connection, name: str) -> int | None:
    """The id of the component called `name`, or None when the config never declared it."""
    found = conn.execute("SELECT id FROM components WHERE name = ?", (name,)).fetchone()
    return None if found is None else int(found[0])

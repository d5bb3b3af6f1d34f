"""Build (once) and keep current the big database `bench/views.py` times the views on.

The shape is issue 11's: 1,000 components checked every 60 s, 7 days of raw results (~10 M rows),
400 days of hourly rollups (the default `[retention] rollups`), and 400 days of breaker transitions,
incidents, decisions and recovery events (the default `[retention] history`). The schema comes from
the real migrations (`daemon.store.migrate.upgrade`); rows are written with plain SQL in big
transactions, the raw results with their two indexes dropped during the load and re-created from the
exact SQL the migrations wrote (~10x faster than inserting into indexed tables).

The file is cached (default `bench/.cache/views.db`, ~1.6 GB). Views measure against the real clock, so
a cached copy is *topped up* on every run: the minutes since it was last written are added as the
daemon would (raw rows plus the rollup UPSERT the writer runs), and raw rows past 7 days are pruned
through `daemon.store.retention`. Older than `MAX_AGE_S` (a gap bigger than the raw window), it is
rebuilt.

History volume (a choice; the issue says "realistic"): 95 % of components have an outage every
~10 days on average, 5 % are flappy (one a day). That is ~58,000 outages in 400 days, ~3.4 transitions,
~3.3 decisions and ~1.5 recovery events each, and 10 components in an outage right now.
"""

from __future__ import annotations

import math
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from daemon.config.models import Retention
from daemon.store import migrate, retention
from daemon.store import sqlite as store_sqlite
from daemon.store.results_sql import UPSERT_ROLLUP

DAY = 86400
HOUR = 3600
MAX_AGE_S = 2 * DAY  # a cache older than this is rebuilt rather than topped up


@dataclass(frozen=True)
class Shape:
    components: int = 1000
    every_s: int = 60
    raw_days: int = 7
    rollup_days: int = 400
    history_days: int = 400
    mtbf_days: float = 10.0
    flappy_share: float = 0.05
    flappy_mtbf_days: float = 1.0
    open_now: int = 10
    seed: int = 11

    def key(self) -> str:
        return (
            f"c{self.components}-e{self.every_s}-r{self.raw_days}-u{self.rollup_days}"
            f"-h{self.history_days}-m{self.mtbf_days}-f{self.flappy_share}-s{self.seed}"
        )


# Status of one generated check, from r = a multiplicative hash of (minute, component) % 10000 (a
# hash, not random(): SQLite re-evaluates a CTE column at each use, so random() would disagree with
# itself): 1 % unhealthy, 0.5 % unknown, 2 %
# degraded; plus 1 % of components that are down for good (the fleet's broken boxes), which makes
# ~1,500 failures an hour at 1,000 components (the issue measured ~1,300).
_RAW_SELECT = """
WITH RECURSIVE m(i) AS (SELECT :m0 UNION ALL SELECT i + 1 FROM m WHERE i + 1 < :m1),
g AS (
    SELECT c.id AS component_id,
           m.i * :every + (c.id % :every) + 0.25 AS ts,
           CASE WHEN c.id % 100 = 7 THEN 0 ELSE ((m.i * 2654435761 + c.id * 40503) % 2147483647) % 10000 END AS r
      FROM m CROSS JOIN components AS c
)
SELECT component_id, ts,
       CASE WHEN r < 100 THEN 'unhealthy' WHEN r < 150 THEN 'unknown'
            WHEN r < 350 THEN 'degraded' ELSE 'healthy' END,
       CASE WHEN r < 150 THEN 2000.0 WHEN r < 350 THEN 400.0 + r ELSE 2.0 + (r % 50) / 10.0 END,
       CASE WHEN r < 50 THEN 'timeout' WHEN r < 100 THEN 'refused' WHEN r < 150 THEN 'error' END,
       CASE WHEN r < 50 THEN 'timed out after 2s' WHEN r < 100 THEN 'connection refused'
            WHEN r < 150 THEN 'check raised: OSError' WHEN r < 350 THEN 'slow' ELSE 'HTTP 200' END,
       0
  FROM g
 WHERE ts <= :now
 ORDER BY ts, component_id
"""

_RAW_INSERT = (
    "INSERT INTO check_results (component_id, ts, status, latency_ms, error_class, message, injected) " + _RAW_SELECT
)

#: The writer's UPSERT, fed from raw rows instead of from Python (same conflict rule).
_ROLLUP_FROM_RAW = """
INSERT INTO result_rollups_hourly
    (hour, component_id, total, healthy, degraded, unhealthy, unknown, injected,
     latency_sum_ms, latency_min_ms, latency_max_ms)
SELECT CAST(ts / 3600 AS INTEGER) * 3600 AS h, component_id, count(*),
       sum(status = 'healthy'), sum(status = 'degraded'), sum(status = 'unhealthy'), sum(status = 'unknown'),
       sum(injected), sum(latency_ms), min(latency_ms), max(latency_ms)
  FROM check_results
 WHERE ts >= :t0 AND ts < :t1
 GROUP BY h, component_id
 ORDER BY h, component_id
""" + UPSERT_ROLLUP[UPSERT_ROLLUP.index("ON CONFLICT") :]

#: Hours before the raw window: synthetic counts with the same failure rates.
_OLD_ROLLUPS = """
WITH RECURSIVE hs(h) AS (SELECT :h0 UNION ALL SELECT h + 3600 FROM hs WHERE h + 3600 < :h1),
g AS (
    SELECT hs.h, c.id AS component_id,
           ((hs.h / 3600) * 2654435761 + c.id * 40503) % 2147483647 AS x,
           c.id AS cid
      FROM hs CROSS JOIN components AS c
),
g1 AS (SELECT h, component_id,
               CASE WHEN cid % 100 = 7 THEN :n WHEN x % 100 < 2 THEN (x / 100) % :n ELSE (x / 100) % 2 END AS u,
               (x / 1000) % 2 AS k0, (x / 10000) % 3 AS d0
          FROM g),
g2 AS (SELECT h, component_id, u, min(k0, :n - u) AS k, d0 FROM g1),
g3 AS (SELECT h, component_id, u, k, min(d0, :n - u - k) AS d FROM g2)
INSERT INTO result_rollups_hourly
    (hour, component_id, total, healthy, degraded, unhealthy, unknown, injected,
     latency_sum_ms, latency_min_ms, latency_max_ms)
SELECT h, component_id, :n, :n - u - k - d, d, u, k, 0,
       :n * 4.0 + u * 2000.0, 2.0, CASE WHEN u > 0 THEN 2000.0 ELSE 6.9 END
  FROM g3
 ORDER BY h, component_id
"""


def _conn(path: Path) -> sqlite3.Connection:
    return store_sqlite.connect(path)


def _index_sql(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
    ).fetchall()
    return dict(rows)


def _trigger_sql(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)))


def _say(msg: str) -> None:
    print(f"  [build] {msg}", flush=True)


def _components(conn: sqlite3.Connection, shape: Shape, now: float) -> None:
    rows = [
        (f"svc-{i:04d}", "http" if i % 3 else "tcp", float(shape.every_s), now - shape.history_days * DAY)
        for i in range(1, shape.components + 1)
    ]
    conn.executemany("INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, ?, ?, ?)", rows)


def _raw(conn: sqlite3.Connection, shape: Shape, first: float, last: float) -> int:
    """Raw results for minutes in [first, last]; returns the row count."""
    m0 = math.ceil(first / shape.every_s)
    m1 = math.floor(last / shape.every_s) + 1
    step = DAY // shape.every_s
    n = 0
    for start in range(m0, m1, step):
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute(_RAW_INSERT, {"m0": start, "m1": min(start + step, m1), "every": shape.every_s, "now": last})
        n += cur.rowcount
        conn.execute("COMMIT")
    return n


def _rollups_from_raw(conn: sqlite3.Connection, t0: float, t1: float) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(_ROLLUP_FROM_RAW, {"t0": t0, "t1": t1})
    conn.execute("COMMIT")


def _old_rollups(conn: sqlite3.Connection, shape: Shape, h0: int, h1: int) -> None:
    per = 30 * 24 * HOUR
    for start in range(h0, h1, per):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_OLD_ROLLUPS, {"h0": start, "h1": min(start + per, h1), "n": DAY // shape.every_s // 24})
        conn.execute("COMMIT")


def _history(conn: sqlite3.Connection, shape: Shape, now: float) -> dict[str, int]:
    """Outages with their transitions, incidents, decisions and recovery events, in time order."""
    rnd = random.Random(shape.seed)
    ids = [r[0] for r in conn.execute("SELECT id FROM components ORDER BY id")]
    start = now - shape.history_days * DAY
    outages: list[tuple[float, int, float, bool, bool]] = []  # t0, component, duration, reopened, ongoing
    flappy = set(rnd.sample(ids, int(len(ids) * shape.flappy_share)))
    ongoing = set(rnd.sample(ids, shape.open_now))
    for cid in ids:
        mtbf = (shape.flappy_mtbf_days if cid in flappy else shape.mtbf_days) * DAY
        t = start + rnd.expovariate(1 / mtbf)
        mine = []
        while t < now - HOUR:
            duration = min(rnd.lognormvariate(math.log(120), 1.0), 6 * HOUR)
            mine.append([t, cid, duration, rnd.random() < 0.3, False])
            t += duration + rnd.expovariate(1 / mtbf)
        if cid in ongoing:
            mine.append([now - rnd.uniform(60, 1800), cid, 0.0, False, True])
        outages.extend(tuple(o) for o in mine)
    outages.sort()

    transitions, decisions, events, incidents = [], [], [], []
    conn.execute("BEGIN IMMEDIATE")
    next_incident = (conn.execute("SELECT coalesce(max(id), 0) FROM incidents").fetchone()[0]) + 1
    for t0, cid, duration, reopened, is_ongoing in outages:
        iid = next_incident
        next_incident += 1
        end = t0 + max(duration, 35.0 + (61 if reopened else 0))
        transitions.append((cid, t0, "closed", "open", "3 consecutive failures (timeout)", t0 + 30))
        incidents.append((iid, cid, t0, None if is_ongoing else end, "open" if is_ongoing else "resolved", "breaker"))
        decisions.append((iid, cid, t0, "open_incident", None, None, "breaker opened"))
        decisions.append((iid, cid, t0 + 0.01, "run_step", 0, "retry", "step 0 retry: attempt 1 of 3"))
        events.append(
            (
                iid,
                cid,
                "retry",
                0,
                1,
                "breaker opened",
                "failed" if reopened else "succeeded",
                t0 + 0.02,
                t0 + 2.5,
                None if reopened else end,
                "run",
                0,
                "",
            )
        )
        if is_ongoing:
            continue
        transitions.append((cid, t0 + 30, "open", "half_open", "open period over", None))
        if reopened:
            transitions.append((cid, t0 + 31, "half_open", "open", "probe failed (timeout)", t0 + 91))
            transitions.append((cid, t0 + 91, "open", "half_open", "open period over", None))
            decisions.append((iid, cid, t0 + 32, "run_step", 0, "retry", "step 0 retry: attempt 2 of 3"))
            events.append((iid, cid, "retry", 0, 2, "not verified", "succeeded", t0 + 32, t0 + 34.5, end, "run", 0, ""))
        transitions.append((cid, end, "half_open", "closed", "2 successes in half-open", None))
        decisions.append((iid, cid, end, "close_incident", None, None, "breaker closed"))
    conn.executemany(
        "INSERT INTO incidents (id, component_id, opened_at, closed_at, status, trigger) VALUES (?, ?, ?, ?, ?, ?)",
        incidents,
    )
    transitions.sort(key=lambda r: r[1])
    conn.executemany(
        "INSERT INTO breaker_transitions (component_id, ts, from_state, to_state, reason, open_until) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        transitions,
    )
    decisions.sort(key=lambda r: r[2])
    conn.executemany(
        "INSERT INTO decisions (incident_id, component_id, ts, kind, step, strategy, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        decisions,
    )
    events.sort(key=lambda r: r[7])
    conn.executemany(
        "INSERT INTO recovery_events (incident_id, component_id, strategy, step, attempt, reason, status, "
        "started_at, finished_at, verified_at, action, exit_code, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    last = {}
    for t0, cid, _duration, _reopened, is_ongoing in outages:
        last[cid] = (t0, is_ongoing)
    conn.executemany(
        "INSERT INTO breakers (component_id, state, since, open_until, consecutive_failures, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                cid,
                "open" if last.get(cid, (0, False))[1] else "closed",
                last.get(cid, (start, False))[0],
                now + 30 if last.get(cid, (0, False))[1] else None,
                3 if last.get(cid, (0, False))[1] else 0,
                now,
            )
            for cid in ids
        ],
    )
    conn.execute("COMMIT")
    return {
        "outages": len(outages),
        "breaker_transitions": len(transitions),
        "decisions": len(decisions),
        "recovery_events": len(events),
        "incidents": len(incidents),
    }


#: Every raw row is in the rollups (they were built from the raw rows directly): move the mark past them.
_MARK_ALL = "UPDATE result_rollups_mark SET result_id = (SELECT coalesce(max(id), 0) FROM check_results)"


def build(path: Path, shape: Shape) -> None:
    """A fresh database of `shape` at `path`, migrated to head, stamped with `shape.key()`."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    migrate.upgrade(path)
    now = time.time()
    conn = _conn(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        _components(conn, shape, now)
        conn.execute("COMMIT")
        raw_from = now - shape.raw_days * DAY
        first_raw_hour = int(raw_from // HOUR) * HOUR + HOUR  # rollups before it are synthetic
        _say(f"rollups: {shape.rollup_days} days x {shape.components} components")
        _old_rollups(conn, shape, int((now - shape.rollup_days * DAY) // HOUR) * HOUR + HOUR, first_raw_hour)
        indexes = _index_sql(conn, "check_results")
        for name in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        _say(f"raw results: {shape.raw_days} days every {shape.every_s}s (indexes dropped during the load)")
        n = _raw(conn, shape, first_raw_hour, now)
        for sql in indexes.values():
            _say(f"index: {sql}")
            conn.execute(sql)
        _say(f"{n:,} raw rows; rollups of the raw window")
        for h in range(first_raw_hour, int(now // HOUR) * HOUR + HOUR, DAY):
            _rollups_from_raw(conn, h, h + DAY)
        conn.execute(_MARK_ALL)
        _say("history")
        counts = _history(conn, shape, now)
        _say(", ".join(f"{k} {v:,}" for k, v in counts.items()))
        conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT OR REPLACE INTO bench_meta VALUES ('shape', ?), ('built_at', ?)", (shape.key(), now))
    finally:
        conn.close()
    _say(f"built in {time.perf_counter() - t:.0f} s")


def top_up(path: Path, shape: Shape) -> dict[str, float]:
    """Add the raw rows and rollups of the minutes since the last write; prune raw past its window."""
    now = time.time()
    conn = _conn(path)
    try:
        last = conn.execute("SELECT max(ts) FROM check_results").fetchone()[0] or now
        added = _raw(conn, shape, last + shape.every_s / 2, now) if now - last > shape.every_s else 0
        if added:
            # The writer's fold (every 10 s) counts the new rows into the rollups; the same statement over
            # them does the same, and the mark says so (else retention's fold would count them again).
            _rollups_from_raw(conn, last + 0.001, now + 1)
            conn.execute(_MARK_ALL)
        ret = Retention(raw_results=f"{shape.raw_days}d", rollups=f"{shape.rollup_days}d")
        pruned = 0
        for rule in retention.RULES[:2]:  # raw results and rollups: what the daemon prunes every 10 min
            cutoff = retention.cutoff_for(rule, ret, now)
            while True:
                conn.execute("BEGIN IMMEDIATE")
                n = retention.delete_batch(conn, rule, cutoff, 50_000)
                conn.execute("COMMIT")
                pruned += n
                if n < 50_000:
                    break
    finally:
        conn.close()
    return {"added": added, "pruned": pruned, "gap_s": now - last}


def ensure(path: Path, shape: Shape, *, rebuild: bool = False) -> None:
    """Build the database if missing, stale or of another shape; otherwise migrate and top it up."""
    fresh = not rebuild and path.exists()
    if fresh:
        conn = sqlite3.connect(path)
        try:
            meta = dict(conn.execute("SELECT key, value FROM bench_meta"))
            last = conn.execute("SELECT max(ts) FROM check_results").fetchone()[0] or 0
        except sqlite3.Error:
            meta, last = {}, 0
        finally:
            conn.close()
        fresh = meta.get("shape") == shape.key() and time.time() - last < MAX_AGE_S
    if not fresh:
        build(path, shape)
        return
    t = time.perf_counter()
    migrate.upgrade(path)  # a cached file made by older code gets the newer migrations, as a host would
    done = top_up(path, shape)
    _say(
        f"cached {path}: migrated, topped up {done['added']:,} rows ({done['gap_s']:.0f} s gap), "
        f"pruned {done['pruned']:,} in {time.perf_counter() - t:.1f} s"
    )

"""Time every public view on a year of history, against the goal (≤ 50 ms) and references in the same run.

The database (built once and cached, see bench/views_db.py): 1,000 components checked every 60 s,
7 days of raw results (~10 M rows), 400 days of hourly rollups (the default retention) and 400 days of
outages (transitions, incidents, decisions, recovery events). It is migrated by the real migrations, so
a cache built by older code also measures the upgrade.

Each view is read the way `healerd report` reads it (a read-only connection, `SELECT *`, all rows
fetched); the figure is the median of `--runs` runs, wall and CPU time of this process (CPU is the
robust one on a shared machine: SQLite runs in-process). Two rounds:
  1. without planner statistics (a database as migrated; nothing has run ANALYZE yet);
  2. after `PRAGMA analysis_limit=400; ANALYZE` (what the daemon's periodic `PRAGMA optimize` runs).
References, same run: the 7- and 30-day views as 0009 defined them, on a TEMP copy of 0009's daily
table, timed interleaved with the current ones; the definition each view had before migration 0007
(as TEMP views; one run: the old 24 h view alone takes ~25 s here); raw counts over the same rows.

Usage: .venv/bin/python bench/views.py [--db bench/.cache/views.db] [--runs 5] [--rebuild] [--no-old]
       [--components 1000] [--raw-days 7] [--rollup-days 400] [--history-days 400]
"""

from __future__ import annotations

import argparse
import importlib.util
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import views_db

from daemon import paths
from daemon.store import sqlite as store_sqlite

GOAL_MS = 50.0
NOW = "(julianday('now') - 2440587.5) * 86400.0"
#: Raw references over the same rows the views read.
REFERENCES = {
    "count(*) check_results (all raw rows, covering index)": "SELECT count(*) FROM check_results",
    "count(*) failures of the last hour, ts index": (
        f"SELECT count(*) FROM check_results WHERE ts >= {NOW} - 3600 AND status IN ('unhealthy', 'unknown')"
    ),
    "sum(total) of 24 h hourly rollups, hour key": (
        f"SELECT sum(total) FROM result_rollups_hourly WHERE hour >= CAST({NOW} / 3600 AS INTEGER) * 3600 - 82800"
    ),
    "count(*) breaker_transitions (all kept)": "SELECT count(*) FROM breaker_transitions",
    "count(*) recovery_events (all kept)": "SELECT count(*) FROM recovery_events",
}


def old_definitions(revision: str) -> dict[str, str]:
    """The SQL of each view a migration changed, as it was before it (kept in it for its downgrade)."""
    found = sorted(paths.migrations_dir().glob(f"versions/{revision}_*.py"))
    if not found:
        return {}
    spec = importlib.util.spec_from_file_location(f"m{revision}", found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return {name: sql for (kind, name), sql in module.OLD_SQL.items() if kind == "view"}


#: Earlier definitions timed beside the current ones: (migration, label, runs). Before 0007 the 24 h
#: view alone takes ~25 s here, so one run.
OLD_REVISIONS = (("0007", "before 0007", 1),)

#: result_rollups_daily as 0009 had it (keyed (day, component_id)), copied into a TEMP table so the
#: 0009 definitions of the 7- and 30-day views run on their own layout in the same run (a compact copy:
#: if anything this favours them over a table grown by triggers).
_DAILY_0009 = """
CREATE TEMP TABLE daily_0009 (
    day INTEGER NOT NULL, component_id INTEGER NOT NULL, total INTEGER, healthy INTEGER, degraded INTEGER,
    unhealthy INTEGER, unknown INTEGER, injected INTEGER, maintenance INTEGER, maintenance_up INTEGER,
    latency_sum_ms REAL, latency_min_ms REAL, latency_max_ms REAL,
    PRIMARY KEY (day, component_id)
) WITHOUT ROWID
"""


def before_0013(conn: sqlite3.Connection, runs: int) -> None:
    """The 7- and 30-day views as 0009 defined them, on 0009's daily table, against the current ones:
    interleaved runs (old, new, old, new...) so both see the same load on a shared machine."""
    old = old_definitions("0013")
    if not old:
        return
    conn.execute("DROP TABLE IF EXISTS temp.daily_0009")
    conn.execute(_DAILY_0009)
    conn.execute("INSERT INTO temp.daily_0009 SELECT * FROM main.result_rollups_daily ORDER BY day, component_id")
    for view, sql in old.items():
        sql = sql.replace(f"CREATE VIEW {view} AS", f"CREATE TEMP VIEW old_{view} AS", 1)
        conn.execute(f"DROP VIEW IF EXISTS temp.old_{view}")
        conn.execute(sql.replace("result_rollups_daily", "temp.daily_0009"))
        queries = {"0009": f"SELECT * FROM temp.old_{view}", "now": f"SELECT * FROM main.{view}"}
        if conn.execute(queries["0009"]).fetchall() != conn.execute(queries["now"]).fetchall():
            print(f"  {view}: the 0009 definition answers differently (an hour boundary passed?)")
        cpu: dict[str, list[float]] = {k: [] for k in queries}
        for _ in range(runs):
            for key, query in queries.items():
                cpu[key].append(timed(conn, query, 1)[1])
        then, now = statistics.median(cpu["0009"]), statistics.median(cpu["now"])
        print(
            f"  {view} as 0009 defined it, on its table: {then:6.1f} ms CPU; now {now:6.1f} ms "
            f"({then / now:.2f}x faster; {runs} interleaved runs, median)",
            flush=True,
        )


def timed(conn: sqlite3.Connection, sql: str, runs: int) -> tuple[float, float, int]:
    """(median wall ms, median CPU ms, rows) of `runs` executions fetching every row."""
    walls, cpus, n = [], [], 0
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        n = len(conn.execute(sql).fetchall())
        cpus.append((time.process_time() - c) * 1000)
        walls.append((time.perf_counter() - w) * 1000)
    return statistics.median(walls), statistics.median(cpus), n


def views_of(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")]


def round_of(path: Path, runs: int, title: str) -> dict[str, tuple[float, float, int]]:
    conn = store_sqlite.connect(path, readonly=True)
    try:
        print(f"\n{title}")
        print(f"  {'view':32s} {'wall ms':>9s} {'CPU ms':>9s} {'rows':>6s}  goal ≤ {GOAL_MS:.0f} ms (CPU)")
        out = {}
        for view in views_of(conn):
            timed(conn, f'SELECT * FROM "{view}"', 1)  # warm the page cache: cold reads are disk, not SQL
            wall, cpu, n = out[view] = timed(conn, f'SELECT * FROM "{view}"', runs)
            verdict = "ok" if cpu <= GOAL_MS else "OVER"
            print(f"  {view:32s} {wall:9.1f} {cpu:9.1f} {n:6d}  {verdict}", flush=True)
        worst = max(out.items(), key=lambda kv: kv[1][1])
        print(f"  slowest: {worst[0]} {worst[1][1]:.1f} ms CPU = {worst[1][1] / GOAL_MS:.2f} x the goal")
        return out
    finally:
        conn.close()


def references(path: Path, runs: int, new: dict[str, tuple[float, float, int]], with_old: bool) -> None:
    conn = sqlite3.connect(store_sqlite.readonly_uri(path), uri=True)  # not query_only: TEMP views
    try:
        print("\nreferences, same run")
        for label, sql in REFERENCES.items():
            wall, cpu, _ = timed(conn, sql, runs)
            print(f"  {label:52s} {wall:9.1f} ms wall {cpu:9.1f} ms CPU")
        if not with_old:
            return
        before_0013(conn, runs)
        for revision, label, fixed_runs in OLD_REVISIONS:
            for view, sql in old_definitions(revision).items():
                temp = sql.replace(f"CREATE VIEW {view} AS", f"CREATE TEMP VIEW old_{view} AS", 1)
                conn.execute(f"DROP VIEW IF EXISTS temp.old_{view}")
                conn.execute(temp)
                n = fixed_runs or runs
                if n > 1:
                    timed(conn, f"SELECT * FROM temp.old_{view}", 1)  # warm, as the current views are
                wall, cpu, _ = timed(conn, f"SELECT * FROM temp.old_{view}", n)
                mine = new.get(view, (0.0, 0.0, 0))[1]
                ratio = f"{cpu / mine:,.2f}x the current view's CPU" if mine else ""
                what = f"old {view} ({label}, {n} run{'s' if n > 1 else ''})"
                print(f"  {what:52s} {wall:9.1f} ms wall {cpu:9.1f} ms CPU  {ratio}", flush=True)
    finally:
        conn.close()


def set_statistics(path: Path, analyzed: bool) -> float:
    """Drop the planner statistics, or gather them as the daemon's `PRAGMA optimize` would; seconds taken."""
    conn = store_sqlite.connect(path)
    t = time.perf_counter()
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
        if analyzed:
            conn.execute("PRAGMA analysis_limit=400")
            conn.execute("ANALYZE")
        elif exists:
            conn.execute("DELETE FROM sqlite_stat1")
            conn.execute("ANALYZE sqlite_schema")  # reload: the planner forgets the deleted statistics
    finally:
        conn.close()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, default=Path(__file__).resolve().parent / ".cache" / "views.db")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--no-old", action="store_true", help="skip timing the pre-0007 view definitions")
    ap.add_argument("--components", type=int, default=1000)
    ap.add_argument("--raw-days", type=int, default=7)
    ap.add_argument("--rollup-days", type=int, default=400)
    ap.add_argument("--history-days", type=int, default=400)
    args = ap.parse_args()
    shape = views_db.Shape(
        components=args.components, raw_days=args.raw_days, rollup_days=args.rollup_days, history_days=args.history_days
    )
    print(f"database {args.db} ({shape.key()})")
    views_db.ensure(args.db, shape, rebuild=args.rebuild)
    conn = sqlite3.connect(store_sqlite.readonly_uri(args.db), uri=True)
    for table in (
        "check_results",
        "result_rollups_hourly",
        "result_rollups_daily",
        "breaker_transitions",
        "breaker_outages",
        "decisions",
        "recovery_events",
        "incidents",
    ):
        try:
            n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            print(f"  {table:24s} {n:>12,} rows")
        except sqlite3.Error:
            pass
    conn.close()
    print(f"  file {args.db.stat().st_size / 1e9:.2f} GB; SQLite {sqlite3.sqlite_version}")

    set_statistics(args.db, analyzed=False)
    plain = round_of(args.db, args.runs, "1. no planner statistics (as migrated)")
    references(args.db, args.runs, plain, with_old=not args.no_old)
    took = set_statistics(args.db, analyzed=True)
    round_of(args.db, args.runs, f"2. after PRAGMA analysis_limit=400; ANALYZE ({took:.1f} s)")


if __name__ == "__main__":
    main()

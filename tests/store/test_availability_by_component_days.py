"""Migration 0013's 7- and 30-day availability views answer exactly what revision 0009's definitions did.

0013 re-keys result_rollups_daily (component_id, day) and adds each component's whole days (read in
key order) to the window's first, partial day read from the hourly rollups. The old definitions are
kept in the migration for its downgrade; here they run as TEMP views beside the new ones on the same
rows, written by the writer's own path (raw results → hourly UPSERT → daily triggers): results on
both sides of every day and hour boundary of the windows, maintenance checks that passed and failed,
injected ones, a component without checks, a removed one, and a result stamped in the future.
"""

from __future__ import annotations

import importlib.util
import random
import sqlite3
import time

import pytest
from helpers import wait_until

from daemon import paths
from daemon.store import migrate, schema_sql
from daemon.store.results_sql import write_results
from daemon.store.sqlite import connect

HOUR, DAY = 3600, 86400
WINDOWS = ("24h", "7d", "30d")
STATUSES = ("healthy", "healthy", "healthy", "degraded", "unhealthy", "unknown")


def old_sql() -> dict[str, str]:
    """Each view 0013 changes, as revision 0009 defined it (0013's OLD_SQL)."""
    (found,) = paths.migrations_dir().glob("versions/0013_*.py")
    spec = importlib.util.spec_from_file_location("m0013", found)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: sql for (kind, name), sql in module.OLD_SQL.items() if kind == "view"}


@pytest.fixture
def steady_hour(seed):
    """The windows move on the hour: never seed in the last seconds of one and read in the next."""
    if HOUR - time.time() % HOUR < 60:
        wait_until(lambda: time.time() % HOUR < 30, timeout=90, message="the next hour")
    seed.now = time.time()
    return seed


def results_across_boundaries(seed, ids: list[int]) -> int:
    """Results around each window's first hour and first day, and spread over 32 days; returns the count."""
    rnd = random.Random(13)
    now = seed.now
    this_hour = int(now // HOUR) * HOUR
    edges = []
    for hours in (23, 167, 719):
        first_hour = this_hour - hours * HOUR
        first_day = (first_hour + DAY - 1) // DAY * DAY
        edges += [first_hour, first_day, first_day - DAY, first_day + DAY]
    edges += [this_hour, this_hour - DAY, now // DAY * DAY]
    stamps = [e + off for e in edges for off in (-1.5, -0.001, 0.0, 0.5, HOUR - 0.5)]
    stamps += [now - rnd.uniform(0, 32 * DAY) for _ in range(1500)]
    stamps.append(now + 2 * HOUR)  # a clock that jumped: both definitions count it the same way
    rows = []
    for ts in stamps:
        if ts > now and ts != stamps[-1]:
            continue
        status = rnd.choice(STATUSES)
        rows.append(
            (
                rnd.choice(ids),
                ts,
                status,
                rnd.uniform(0.5, 900.0),
                None,
                "m",
                int(rnd.random() < 0.1),  # injected
                None,
                int(rnd.random() < 0.2),  # in maintenance (up or down)
            )
        )
    for start in range(0, len(rows), 97):  # many small batches: the writer's UPSERT grows the rows
        seed.conn.execute("BEGIN")
        write_results(seed.conn, rows[start : start + 97])
        seed.conn.execute("COMMIT")
    return len(rows)


def both(conn: sqlite3.Connection, window: str, old: str) -> tuple[list, list]:
    """(new view's rows, old definition's rows), read in one transaction so 'now' is one hour."""
    name = f"component_availability_{window}"
    conn.execute(f"DROP VIEW IF EXISTS temp.old_{name}")
    conn.execute(old.replace(f"CREATE VIEW {name} AS", f"CREATE TEMP VIEW old_{name} AS", 1))
    conn.execute("BEGIN")
    try:
        return (
            conn.execute(f"SELECT * FROM main.{name}").fetchall(),
            conn.execute(f"SELECT * FROM temp.old_{name}").fetchall(),
        )
    finally:
        conn.execute("COMMIT")


def test_new_availability_views_equal_the_0009_definitions_across_day_and_hour_boundaries(steady_hour):
    seed = steady_hour
    ids = [seed.component(f"svc-{i}") for i in range(5)]
    seed.component("idle")
    gone = seed.component("gone", removed_at=seed.now - DAY)
    assert results_across_boundaries(seed, [*ids, gone]) > 1500
    definitions = old_sql()
    assert set(definitions) == {"component_availability_7d", "component_availability_30d"}

    for window in ("7d", "30d"):
        new, old = both(seed.conn, window, definitions[f"component_availability_{window}"])
        assert new == old, window
        assert [r[0] for r in new] == ["idle"] + [f"svc-{i}" for i in range(5)]
        by_name = {r[0]: r for r in new}
        assert by_name["idle"][1] == 0 and by_name["idle"][6] is None  # no checks: no availability
    # The data did exercise what the views have to get right.
    for row in both(seed.conn, "30d", definitions["component_availability_30d"])[0][1:]:
        (_, checks, *_rest, injected, maintenance, _since) = row
        assert checks > 100 and injected > 0 and maintenance > 0, row


def test_each_window_counts_the_hours_its_first_partial_day_contributes(steady_hour, view):
    """One check per hour for 32 days, distinct latencies: a view that dropped or doubled the partial
    day's hours, or took min/max from the wrong rows, would miss these counts and extremes."""
    seed = steady_hour
    app = seed.component("app")
    this_hour = int(seed.now // HOUR) * HOUR
    rows = []
    for h in range(32 * 24):
        ts = this_hour - h * HOUR + 1.0
        rows.append((app, ts, "healthy" if h % 5 else "unhealthy", 100.0 + h, None, "m", 0, None, int(h % 7 == 0)))
    seed.conn.execute("BEGIN")
    write_results(seed.conn, rows)
    seed.conn.execute("COMMIT")
    for window, hours in (("24h", 24), ("7d", 168), ("30d", 720)):
        (row,) = view(f"component_availability_{window}")
        inside = range(hours)
        assert row["checks"] == hours, window
        assert row["unhealthy"] == sum(1 for h in inside if h % 5 == 0), window
        assert row["maintenance_checks"] == sum(1 for h in inside if h % 7 == 0), window
        assert (row["min_latency_ms"], row["max_latency_ms"]) == (100.0, 100.0 + hours - 1), window


def test_downgrade_to_0009_and_back_keeps_the_daily_rows_and_the_answers(db_path, steady_hour, view):
    seed = steady_hour
    ids = [seed.component(f"svc-{i}") for i in range(3)]
    results_across_boundaries(seed, ids)
    daily = "SELECT * FROM result_rollups_daily ORDER BY day, component_id"
    before_rows = seed.conn.execute(daily).fetchall()
    seed.conn.close()
    before = {w: view(f"component_availability_{w}") for w in WINDOWS}

    migrate.downgrade(db_path, "0009")
    conn = connect(db_path)
    try:
        assert conn.execute(daily).fetchall() == before_rows
        pk = [r[2] for r in sorted(conn.execute("PRAGMA index_info('sqlite_autoindex_result_rollups_daily_1')"))]
        assert pk == ["day", "component_id"]
        for name, sql in old_sql().items():
            stored = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
            assert schema_sql.normalize(stored) == schema_sql.normalize(sql), name
    finally:
        conn.close()
    assert {w: view(f"component_availability_{w}") for w in WINDOWS} == before

    migrate.upgrade(db_path)
    assert {w: view(f"component_availability_{w}") for w in WINDOWS} == before
    conn = connect(db_path)
    try:
        assert conn.execute(daily).fetchall() == before_rows
    finally:
        conn.close()

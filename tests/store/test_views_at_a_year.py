"""Issue 11's views: 7- and 30-day availability from the daily rollups, and the summaries the fast views
read (daily rollups, outages, ladder outcomes) kept exactly in step with their sources by triggers.

Speed is the benchmark's business (bench/views.py); these pin what the views answer, and the query plans
that make them fast (a plan that scans the year is a regression a test can see without a clock).
"""

from __future__ import annotations

import random
import time

import pytest
from helpers import wait_until

from daemon.store.results_sql import write_results

HOUR, DAY = 3600, 86400


@pytest.fixture
def steady_hour(seed):
    """The windows move on the hour: never seed in the last seconds of one and read in the next."""
    if HOUR - seed.now % HOUR < 5:
        wait_until(lambda: time.time() % HOUR < 5, timeout=10, message="the next hour")
        seed.now = time.time()
    return seed


@pytest.mark.parametrize("days", [7, 30])
def test_availability_over_days_counts_exactly_this_hour_and_the_ones_before(steady_hour, view, days):
    seed = steady_hour
    app = seed.component("app")
    seed.component("idle")
    hours = days * 24
    # Every hour of the window, plus the one just before it (which must not count). Hours before the
    # window's first whole day come from the hourly rows, the rest from the daily rows the trigger keeps.
    for h in range(hours + 1):
        status = {"healthy": 3, "degraded": 1} if h < hours else {"unhealthy": 1000}
        seed.rollup(
            app,
            h,
            latency_sum_ms=4.0 * sum(status.values()),
            latency_min_ms=1.0 + h % 5,
            latency_max_ms=10.0 if h < hours else 9e3,
            **status,
        )

    rows = {r["component"]: r for r in view(f"component_availability_{days}d")}

    app_row = rows["app"]
    assert (app_row["checks"], app_row["healthy"], app_row["degraded"], app_row["unhealthy"]) == (
        4 * hours,
        3 * hours,
        hours,
        0,
    )
    assert app_row["availability_pct"] == 100.0 and app_row["healthy_pct"] == 75.0
    assert app_row["avg_latency_ms"] == 4.0
    assert (app_row["min_latency_ms"], app_row["max_latency_ms"]) == (1.0, 10.0)
    assert rows["idle"]["checks"] == 0 and rows["idle"]["availability_pct"] is None


def test_the_three_windows_agree_on_the_last_24_hours(steady_hour, view):
    seed = steady_hour
    app = seed.component("app")
    for h in range(24):
        seed.rollup(app, h, healthy=10, unhealthy=h % 3)
    day, week, month = (view(f"component_availability_{w}")[0] for w in ("24h", "7d", "30d"))
    assert day["checks"] == week["checks"] == month["checks"] == 240 + sum(h % 3 for h in range(24))
    assert day["availability_pct"] == week["availability_pct"] == month["availability_pct"]


def test_daily_rollups_equal_the_sum_of_their_hours_whatever_the_writer_upserts(db_path, seed):
    """The writer's own path (results → hourly UPSERT) keeps result_rollups_daily exact through the triggers."""
    rnd = random.Random(11)
    ids = [seed.component(f"c{i}") for i in range(3)]
    base = int(seed.now // DAY) * DAY - 2 * DAY
    statuses = ("healthy", "degraded", "unhealthy", "unknown")
    for _batch in range(30):
        rows = [
            (
                rnd.choice(ids),
                base + rnd.uniform(0, 3 * DAY),
                rnd.choice(statuses),
                rnd.uniform(1, 500),
                None,
                "m",
                rnd.randint(0, 1),
                None,
                rnd.randint(0, 1),
            )
            for _ in range(50)
        ]
        seed.conn.execute("BEGIN")
        write_results(seed.conn, rows)
        seed.conn.execute("COMMIT")
    columns = (
        "sum(total), sum(healthy), sum(degraded), sum(unhealthy), sum(unknown), sum(injected), "
        "sum(maintenance), sum(maintenance_up), "
        "round(sum(latency_sum_ms), 6), min(latency_min_ms), max(latency_max_ms)"
    )
    from_hours = seed.conn.execute(
        f"SELECT hour - hour % 86400 AS day, component_id, {columns} FROM result_rollups_hourly "
        "GROUP BY day, component_id ORDER BY day, component_id"
    ).fetchall()
    from_days = seed.conn.execute(
        f"SELECT day, component_id, {columns} FROM result_rollups_daily "
        "GROUP BY day, component_id ORDER BY day, component_id"
    ).fetchall()
    assert from_days == from_hours and len(from_days) >= 6


def test_outage_summary_equals_pairing_the_transitions_as_the_old_view_did(seed, view):
    """Random breaker histories: recovery_mttr (from the trigger-kept summary) = the pairing of each
    closed→open with the first close after it, computed here from the transitions themselves."""
    rnd = random.Random(7)
    ids = [seed.component(f"s{i}") for i in range(4)]
    t = seed.now - 30 * DAY
    state = dict.fromkeys(ids, "closed")
    moves = {
        "closed": ["open", "forced_open", "disabled"],
        "open": ["half_open"],
        "half_open": ["open", "closed"],
        "forced_open": ["closed"],
        "disabled": ["closed"],
    }
    for _ in range(400):
        cid = rnd.choice(ids)
        t += rnd.uniform(1, 600)
        to = rnd.choice(moves[state[cid]])
        seed.transition(cid, t, state[cid], to)
        state[cid] = to

    transitions = seed.conn.execute(
        "SELECT component_id, ts, from_state, to_state FROM breaker_transitions ORDER BY id"
    ).fetchall()
    expected: dict[int, list[float]] = {}
    ongoing: dict[int, float] = {}
    for i, (cid, ts, frm, to) in enumerate(transitions):
        if (frm, to) == ("closed", "open"):
            closes = [x[1] for x in transitions[i + 1 :] if x[0] == cid and x[3] == "closed"]
            if closes:
                expected.setdefault(cid, []).append(closes[0] - ts)
            else:
                ongoing[cid] = ts
    names = {cid: f"s{i}" for i, cid in enumerate(ids)}
    rows = {r["component"]: r for r in view("recovery_mttr")}
    for cid, seconds in expected.items():
        row = rows[names[cid]]
        seconds.sort()
        n = len(seconds)
        assert row["recoveries"] == n
        assert row["mean_s"] == pytest.approx(sum(seconds) / n, abs=1e-3)
        assert row["median_s"] == pytest.approx((seconds[(n - 1) // 2] + seconds[n // 2]) / 2, abs=1e-3)
        assert (row["min_s"], row["max_s"]) == (
            pytest.approx(seconds[0], abs=1e-3),
            pytest.approx(seconds[-1], abs=1e-3),
        )
    assert {names[c] for c in ongoing} == {r["component"] for r in rows.values() if r["open_since"]}


def test_ladder_outcomes_follow_events_that_get_their_outcome_later(seed, view):
    """Events are written `started` and updated once: the summary moves them from in_progress to their status."""
    app = seed.component("app")
    incident = seed.incident(app, ago=600)
    ids = [seed.recovery(incident, app, ago=500 - i, status="started") for i in range(5)]
    for i, (event, outcome, to_health) in enumerate(
        zip(ids[:4], ["succeeded", "succeeded", "succeeded", "failed"], [30.0, 10.0, 20.0, None])
    ):
        verified = None if to_health is None else seed.now - (500 - i) + to_health
        seed.conn.execute(
            "UPDATE recovery_events SET status = ?, finished_at = ?, verified_at = ? WHERE id = ?",
            (outcome, seed.now, verified, event),
        )
    (row,) = view("recovery_ladder_outcomes")
    assert (row["attempts"], row["succeeded"], row["failed"], row["in_progress"]) == (4, 3, 1, 1)
    assert row["median_to_verified_s"] == 20.0 and row["max_to_verified_s"] == 30.0


def plan(conn, view: str) -> str:
    return "\n".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM {view}"))


def test_the_24h_view_range_scans_the_hourly_key_instead_of_walking_the_year(db_path, seed):
    p24 = plan(seed.conn, "component_availability_24h")
    assert "sqlite_autoindex_result_rollups_hourly_1 (hour>?)" in p24
    assert "ix_result_rollups_hourly_component_id" not in p24


@pytest.mark.parametrize("window", ["7d", "30d"])
def test_the_day_windows_read_each_components_days_in_key_order_and_only_the_first_days_hours(db_path, seed, window):
    p = plan(seed.conn, f"component_availability_{window}")
    # The first, partial day's hours: a range of the hourly (hour, component_id) key, bounded both ways.
    assert "sqlite_autoindex_result_rollups_hourly_1 (hour>? AND hour<?)" in p
    assert "ix_result_rollups_hourly_component_id" not in p
    # Whole days: each component's own days through the daily (component_id, day) key (0013), read in
    # component order, so the only sorts are the hourly part's grouping and adding the two parts.
    assert "SEARCH d USING PRIMARY KEY (component_id=? AND day>?)" in p  # d: result_rollups_daily, without rowid
    assert p.count("USE TEMP B-TREE FOR GROUP BY") == 2


def test_recent_failures_walk_the_failures_index_not_every_result_of_the_hour(db_path, seed):
    assert "ix_check_results_failures_ts (ts>?)" in plan(seed.conn, "recent_health_failures")

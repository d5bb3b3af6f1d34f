"""`[retention] history` prunes the append-only history through the sanctioned horizon, never an open incident's rows.

breaker_transitions, decisions and recovery_events refuse deletes by trigger; pruning sets
`retention_horizon` inside its own transaction, and only rows older than that, outside open incidents,
may go (issue 11). Everything else is still refused.
"""

from __future__ import annotations

import sqlite3

import pytest
from writer_kit import scalar

from daemon.clock import FakeClock
from daemon.config.models import Retention
from daemon.store.retention import RULES, optimize_before_close, prune, prune_and_optimize
from daemon.store.sqlite import connect
from daemon.store.writer import Writer

DAY = 86_400.0
NOW = 1_800_000_000.0
CLOCK = FakeClock(wall=NOW)
OLD = NOW - 401 * DAY
RECENT = NOW - 10 * DAY


@pytest.fixture
async def writer(db_path):
    w = Writer(db_path)
    await w.start()
    yield w
    await w.stop()


def incident(seed, component: int, opened: float, *, open_: bool) -> int:
    return seed.insert(
        "incidents",
        component_id=component,
        opened_at=opened,
        trigger="breaker opened",
        status="open" if open_ else "resolved",
        closed_at=None if open_ else opened + 60,
    )


def outage(seed, component: int, at: float, incident_id: int, *, closes: bool = True) -> None:
    """The rows one outage leaves: transitions, decisions and a recovery event."""
    seed.insert(
        "breaker_transitions", component_id=component, ts=at, from_state="closed", to_state="open", reason="3 failures"
    )
    seed.insert(
        "decisions",
        incident_id=incident_id,
        component_id=component,
        ts=at,
        kind="run_step",
        step=0,
        strategy="retry",
        reason="step 0",
    )
    seed.insert(
        "recovery_events",
        incident_id=incident_id,
        component_id=component,
        strategy="retry",
        step=0,
        reason="opened",
        status="succeeded" if closes else "started",
        started_at=at,
    )
    if closes:
        seed.insert(
            "breaker_transitions",
            component_id=component,
            ts=at + 60,
            from_state="open",
            to_state="closed",
            reason="2 successes",
        )


def counts(db_path) -> dict[str, int]:
    return {
        t: scalar(db_path, f"SELECT count(*) FROM {t}")
        for t in ("breaker_transitions", "decisions", "recovery_events", "breaker_outages")
    }


async def test_history_older_than_retention_goes_and_recent_history_stays(db_path, seed, writer):
    app = seed.component("app")
    outage(seed, app, OLD, incident(seed, app, OLD, open_=False))
    outage(seed, app, RECENT, incident(seed, app, RECENT, open_=False))
    assert counts(db_path) == {"breaker_transitions": 4, "decisions": 2, "recovery_events": 2, "breaker_outages": 2}

    deleted = await prune(writer, Retention(), clock=CLOCK)

    assert {t: deleted[t] for t in ("breaker_transitions", "decisions", "recovery_events")} == {
        "breaker_transitions": 2,
        "decisions": 1,
        "recovery_events": 1,
    }
    assert counts(db_path)["breaker_outages"] == 1  # the derived outage went with its transition
    assert scalar(db_path, "SELECT min(ts) FROM breaker_transitions") == RECENT
    # The views' summaries follow what stays.
    assert scalar(db_path, "SELECT recoveries FROM recovery_mttr") == 1
    assert scalar(db_path, "SELECT attempts FROM recovery_ladder_outcomes") == 1
    # The horizon is set only inside the pruning transaction.
    assert scalar(db_path, "SELECT history_before FROM retention_horizon") is None


async def test_an_open_incidents_rows_stay_however_old(db_path, seed, writer):
    app, db = seed.component("app"), seed.component("db")
    outage(seed, app, OLD, incident(seed, app, OLD, open_=True), closes=False)
    seed.insert("breakers", component_id=app, state="open", since=OLD, updated_at=OLD)
    # db: an old finished outage, but its breaker is half-open now (a new outage in progress).
    outage(seed, db, OLD, incident(seed, db, OLD, open_=False))
    seed.insert("breakers", component_id=db, state="half_open", since=RECENT, updated_at=RECENT)
    before = counts(db_path)

    await prune(writer, Retention(), clock=CLOCK)

    after = counts(db_path)
    assert after["breaker_transitions"] == before["breaker_transitions"]  # app: open incident; db: breaker not closed
    assert scalar(db_path, "SELECT count(*) FROM decisions WHERE component_id = ?", (app,)) == 1
    assert scalar(db_path, "SELECT count(*) FROM recovery_events WHERE component_id = ?", (app,)) == 1
    assert scalar(db_path, "SELECT count(*) FROM decisions WHERE component_id = ?", (db,)) == 0  # resolved: goes


async def test_a_started_recovery_event_is_never_pruned(db_path, seed, writer):
    app = seed.component("app")
    resolved = incident(seed, app, OLD, open_=False)
    seed.insert(
        "recovery_events",
        incident_id=resolved,
        component_id=app,
        strategy="retry",
        step=0,
        reason="x",
        status="started",
        started_at=OLD,
    )
    await prune(writer, Retention(), clock=CLOCK)
    assert scalar(db_path, "SELECT count(*) FROM recovery_events") == 1


@pytest.mark.parametrize("table", ["breaker_transitions", "decisions", "recovery_events"])
def test_deleting_history_outside_pruning_is_still_refused(db_path, seed, table):
    app = seed.component("app")
    outage(seed, app, OLD, incident(seed, app, OLD, open_=False))
    conn = connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(f"DELETE FROM {table}")  # old, resolved: still refused without a horizon
        conn.execute("BEGIN")
        conn.execute("UPDATE retention_horizon SET history_before = ?", (OLD - 1,))  # horizon before the rows
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_every_append_only_table_has_a_guarded_retention_rule():
    guarded = {r.table for r in RULES if r.guarded}
    assert guarded == {"breaker_transitions", "decisions", "recovery_events"}


async def test_pruning_leaves_the_writer_connection_with_a_bounded_analysis_limit(db_path, writer):
    """`PRAGMA optimize` runs after each prune pass with analysis_limit set, as SQLite recommends."""
    await prune_and_optimize(writer, Retention(), now=NOW)
    assert await writer.submit(lambda conn: conn.execute("PRAGMA analysis_limit").fetchone()[0]) == 400


async def test_the_writer_optimizes_before_it_closes(db_path, writer):
    await optimize_before_close(writer)
    assert await writer.submit(lambda conn: conn.execute("PRAGMA analysis_limit").fetchone()[0]) == 400


async def test_optimizing_before_close_gives_up_on_a_stopped_writer_without_raising(db_path):
    stopped = Writer(db_path)
    await stopped.start()
    await stopped.stop()
    await optimize_before_close(stopped, timeout=1.0)  # logged, not raised: the stop goes on

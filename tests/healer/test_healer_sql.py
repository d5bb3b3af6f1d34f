"""The healer's SQL and persistence helpers on a migrated database: rows, mirror columns, decision keys."""

from __future__ import annotations

import dataclasses
import random
import sqlite3

import pytest
from healer_rows import T0, Rows
from helpers import open_db

from daemon.config.models import RetryStep
from daemon.engine.decision import Escalate, Failback, Nothing, OpenIncident, RunStep, Wait
from daemon.engine.ladder import IncidentState, LadderState, Outcome, open_incident, record_finished, record_started
from daemon.service.healer.loop import decision_columns, decision_key
from daemon.service.healer.state import LadderBook, mirror, store_fn
from daemon.store import healer_sql
from daemon.types import BreakerState, Status


def retry_step() -> RetryStep:
    return RetryStep.model_validate(
        {"strategy": "retry", "action": {"run": ["x"]}, "attempts": 3, "backoff": {"initial": "2s", "jitter": "none"}}
    )


def test_a_recovery_event_gets_its_outcome_exactly_once(db_path):
    with open_db(db_path) as conn:
        rows = Rows(conn)
        app = rows.component("app")
        inc = rows.incident(app, T0)
        eid = healer_sql.insert_started(
            conn,
            incident_id=inc,
            component_id=app,
            strategy="retry",
            step=0,
            attempt=1,
            reason="r",
            started_at=T0,
            status="succeeded",
            bogus=1,
        )
        assert conn.execute("SELECT status FROM recovery_events WHERE id = ?", (eid,)).fetchone() == ("started",)
        assert [e["id"] for e in healer_sql.started_events(conn)] == [eid]
        assert healer_sql.finish_event(conn, eid, status="failed", finished_at=T0 + 1, output="no", candidate="b")
        assert not healer_sql.finish_event(conn, eid, status="succeeded", finished_at=T0 + 2)  # already final
        assert conn.execute("SELECT status, candidate FROM recovery_events WHERE id = ?", (eid,)).fetchone() == (
            "failed",
            "b",
        )
        assert healer_sql.started_events(conn) == []
        with pytest.raises(sqlite3.DatabaseError, match="final"):
            conn.execute("UPDATE recovery_events SET status = 'succeeded' WHERE id = ?", (eid,))


def test_one_open_incident_per_component_and_closing_is_idempotent(db_path):
    with open_db(db_path) as conn:
        app = Rows(conn).component("app")
        inc = healer_sql.insert_incident(conn, app, T0, "breaker")
        with pytest.raises(sqlite3.IntegrityError):
            healer_sql.insert_incident(conn, app, T0 + 1, "breaker")
        healer_sql.set_waiting_on(conn, inc, "db")
        healer_sql.close_incident(conn, inc, T0 + 5)
        healer_sql.close_incident(conn, inc, T0 + 9)
        assert healer_sql.open_incidents(conn) == {}
        row = healer_sql.incident_for(conn, "app")
        assert (row["status"], row["closed_at"], row["waiting_on"]) == ("resolved", T0 + 5, "db")


def test_stored_ladder_round_trips_with_mirror_columns_and_fallback_clock(db_path):
    state = open_incident(LadderState(), 7, "breaker", T0)
    state = record_started(state, 0, "retry", T0 + 1)
    state = record_finished(state, retry_step(), Outcome.FAILED, T0 + 2, random.Random(1))
    cols = mirror(state, 60.0)
    assert cols["incident_id"] == 7 and cols["step"] is None
    assert cols["next_attempt_at"] == pytest.approx(T0 + 4) and cols["backoff_prev_s"] == pytest.approx(2.0)
    with open_db(db_path) as conn:
        rows = Rows(conn)
        app = rows.component("app")
        rows.insert("incidents", id=7, component_id=app, opened_at=T0, trigger="breaker")
        store_fn(app, state, 60.0, T0 + 2)(conn)
        assert LadderState.from_json(healer_sql.load_ladder(conn, app)) == state
        assert healer_sql.load_ladders(conn) == {"app": state.to_json()}
        got = conn.execute("SELECT incident_id, next_attempt_at, healthy_since FROM ladder_state").fetchone()
        assert got == (7, pytest.approx(T0 + 4), None)
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE ladder_state SET ladder = 'not json'")


def test_the_book_folds_queued_results_into_healthy_since_in_order():
    book = LadderBook(lambda: {"app": 1}, lambda: 60.0)
    book.observe("app", Status.HEALTHY, BreakerState.CLOSED, T0)
    book.observe("app", Status.UNHEALTHY, BreakerState.CLOSED, T0 + 1)
    book.observe("app", Status.HEALTHY, BreakerState.CLOSED, T0 + 2)
    assert book.fold("app", 1800).healthy_since == T0 + 2
    assert "app" in book.dirty
    assert book.fold("app", 1800).healthy_since == T0 + 2  # nothing queued: unchanged
    book.observe("app", Status.HEALTHY, BreakerState.HALF_OPEN, T0 + 3)
    assert book.fold("app", 1800).healthy_since is None  # healthy means the breaker lets traffic through too


def test_the_book_tells_its_listeners_when_a_flapping_incident_opens_or_closes_and_not_otherwise():
    """The degradation score counts a flapping component as degraded; nothing else would wake it."""
    book = LadderBook(lambda: {"app": 1}, lambda: 60.0)
    told: list[str] = []
    book.flapping_listeners.append(told.append)
    ordinary = LadderState(incident=IncidentState(id=1, opened_at=T0, trigger="breaker"))
    flapping = LadderState(incident=IncidentState(id=2, opened_at=T0, trigger="flapping", flapping=True))
    book.set("app", ordinary)
    assert told == []
    book.set("app", flapping)
    book.set("app", dataclasses.replace(flapping, healthy_since=T0 + 5))  # still flapping: no news
    assert told == ["app"]
    book.set("app", LadderState())
    assert told == ["app", "app"]


def test_an_unreadable_stored_ladder_starts_fresh_and_says_why():
    book = LadderBook(lambda: {}, lambda: 60.0)
    problems = book.load({"app": '{"version": 99}', "db": None})
    assert len(problems) == 1 and problems[0].startswith("app:")
    assert book.get("app") == LadderState() and book.get("db") == LadderState()


def test_decision_keys_ignore_elapsed_time_but_not_counts_steps_or_incidents():
    a = Wait(None, "retry (step 1) in progress since 0.5s ago")
    b = Wait(None, "retry (step 1) in progress since 12s ago")
    assert decision_key(a, 1) == decision_key(b, 1)
    assert decision_key(a, 1) != decision_key(a, 2)
    assert decision_key(Wait(None, "retry 1/3 used in 10m"), 1) != decision_key(Wait(None, "retry 2/3 used in 10m"), 1)
    assert decision_key(Wait(None, "x", waiting_on="db"), 1) != decision_key(Wait(None, "x"), 1)
    assert decision_key(Wait(T0, "x"), 1) != decision_key(Wait(T0 + 5, "x"), 1)


@pytest.mark.parametrize(
    "decision, expected",
    [
        (Wait(T0, "w"), {"kind": "wait", "step": None, "strategy": None, "until": T0}),
        (RunStep(1, "restore", None, "r", 1), {"kind": "run_step", "step": 1, "strategy": "restore", "until": None}),
        (
            Escalate(3, ("ops",), "initial", "e", 1),
            {"kind": "escalate", "step": 3, "strategy": "escalate", "until": None},
        ),
        (Failback(2, "b", "f", 1), {"kind": "failback", "step": 2, "strategy": "fallback", "until": None}),
        (OpenIncident("breaker", "o"), {"kind": "open_incident", "step": None, "strategy": None, "until": None}),
        (Nothing("n"), {"kind": "nothing", "step": None, "strategy": None, "until": None}),
    ],
)
def test_every_decision_maps_to_a_row_the_schema_accepts(db_path, decision, expected):
    assert decision_columns(decision) == expected
    with open_db(db_path) as conn:
        app = Rows(conn).component("app")
        healer_sql.insert_decision(
            conn, component_id=app, incident_id=None, ts=T0, reason=decision.reason, **decision_columns(decision)
        )


def test_weighted_selection_reads_success_rate_and_mean_latency_from_recent_rollups(db_path):
    from daemon.service.healer.facts import _candidate_stats

    hour = int(T0 // 3600) * 3600
    with open_db(db_path) as conn:
        rows = Rows(conn)
        a, b = rows.component("a"), rows.component("b")
        rows.component("never-checked")
        rows.insert(
            "result_rollups_hourly", hour=hour, component_id=a, total=10, healthy=9, unhealthy=1, latency_sum_ms=500.0
        )
        rows.insert(
            "result_rollups_hourly", hour=hour - 3600, component_id=a, total=10, healthy=10, latency_sum_ms=300.0
        )
        rows.insert("result_rollups_hourly", hour=hour - 48 * 3600, component_id=b, total=10, healthy=0, unhealthy=10)
        rows.insert(
            "result_rollups_hourly", hour=hour, component_id=b, total=4, healthy=2, unhealthy=2, latency_sum_ms=4000.0
        )
        stats = _candidate_stats(conn, hour - 24 * 3600)
    assert set(stats) == {"a", "b"}
    assert stats["a"].success_rate == pytest.approx(0.95) and stats["a"].latency_ms == pytest.approx(40.0)
    assert stats["b"].success_rate == pytest.approx(0.5) and stats["b"].latency_ms == pytest.approx(1000.0)

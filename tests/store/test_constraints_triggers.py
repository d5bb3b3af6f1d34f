"""The schema refuses what would corrupt history: bad enum values, dangling keys, rewritten history."""

from __future__ import annotations

import sqlite3

import pytest


def test_history_tables_refuse_update_and_delete(seed):
    app = seed.component("app")
    transition = seed.transition(app, seed.now, "closed", "open", "3 consecutive failures")
    incident = seed.incident(app, ago=1)
    decision = seed.insert(
        "decisions",
        incident_id=incident,
        component_id=app,
        ts=seed.now,
        kind="run_step",
        step=0,
        strategy="retry",
        reason="retry 1/3",
    )
    change = seed.insert("degradation_history", ts=seed.now, from_level="full", to_level="reduced", reason="x")
    for table, row_id in [
        ("breaker_transitions", transition),
        ("decisions", decision),
        ("degradation_history", change),
    ]:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            seed.conn.execute(f"UPDATE {table} SET ts = ts + 1 WHERE id = ?", (row_id,))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            seed.conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))


def test_a_recovery_event_gets_its_outcome_once_then_is_final(seed):
    app = seed.component("app")
    event = seed.recovery(seed.incident(app, ago=10), app, ago=5, status="started")
    seed.conn.execute(
        "UPDATE recovery_events SET status = 'succeeded', finished_at = ? WHERE id = ?", (seed.now, event)
    )
    with pytest.raises(sqlite3.IntegrityError, match="final"):
        seed.conn.execute("UPDATE recovery_events SET status = 'failed' WHERE id = ?", (event,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        seed.conn.execute("DELETE FROM recovery_events WHERE id = ?", (event,))
    assert seed.conn.execute("SELECT status FROM recovery_events").fetchall() == [("succeeded",)]


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("INSERT INTO check_results (component_id, ts, status) VALUES (?, 0, 'fine')", "app"),
        ("INSERT INTO check_results (component_id, ts, status, injected) VALUES (?, 0, 'healthy', 2)", "app"),
        ("INSERT INTO breakers (component_id, state, since, updated_at) VALUES (?, 'ajar', 0, 0)", "app"),
        ("INSERT INTO result_rollups_hourly (hour, component_id, total, healthy) VALUES (3600, ?, 5, 4)", "app"),
        ("INSERT INTO result_rollups_hourly (hour, component_id, total, healthy) VALUES (3601, ?, 1, 1)", "app"),
        ("INSERT INTO components (name, check_kind, every_s, loaded_at, spec) VALUES ('b', 'tcp', 1, 0, '{')", None),
        ("INSERT INTO degradation_state (id, level, since, updated_at) VALUES (2, 'full', 0, 0)", None),
        ("INSERT INTO check_results (component_id, ts, status) VALUES (999, 0, 'healthy')", None),
    ],
    ids=[
        "bad-status",
        "bad-boolean",
        "bad-breaker-state",
        "counts-dont-add-up",
        "hour-not-aligned",
        "spec-not-json",
        "second-degradation-row",
        "unknown-component",
    ],
)
def test_constraints_refuse_invalid_rows(seed, sql, params):
    app = seed.component("app")
    with pytest.raises(sqlite3.IntegrityError):
        seed.conn.execute(sql, (app,) if params else ())


def test_a_component_has_at_most_one_open_incident(seed):
    app = seed.component("app")
    seed.incident(app, ago=100, status="resolved", closed_at=seed.now - 50)
    seed.incident(app, ago=10)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        seed.incident(app, ago=5)


def test_an_incident_gets_one_initial_escalation_per_channel_but_many_reminders(seed):
    app = seed.component("app")
    incident = seed.incident(app, ago=10)
    for kind in ("initial", "reminder", "reminder", "resolved"):
        seed.insert(
            "escalations", incident_id=incident, component_id=app, channel="ops", kind=kind, created_at=seed.now
        )
    seed.insert(
        "escalations", incident_id=incident, component_id=app, channel="pager", kind="initial", created_at=seed.now
    )
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        seed.insert(
            "escalations", incident_id=incident, component_id=app, channel="ops", kind="initial", created_at=seed.now
        )

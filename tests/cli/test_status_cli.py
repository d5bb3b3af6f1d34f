"""`healerd status`: read from the database alone, with or without a daemon, as text or JSON.

Seeded through the same store functions the daemon writes with; times relative to the real clock,
because the views behind status measure staleness against it. With a live daemon: see
tests/daemon/test_degradation_daemon.py.
"""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from helpers import open_db

from daemon.cli.main import cli
from daemon.service.lock import DaemonLock
from daemon.store import degradation_sql as sql


def status(db_path, *args):
    return CliRunner().invoke(cli, ["status", "--db", str(db_path), *args])


def seed(db_path) -> float:
    now = time.time()
    with open_db(db_path) as conn:

        def component(name, status, breaker):
            cid = conn.execute(
                "INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, 'tcp', 10, ?)", (name, now)
            ).lastrowid
            conn.execute(
                "INSERT INTO check_results (component_id, ts, status, latency_ms, error_class, message) "
                "VALUES (?, ?, ?, 1.5, ?, ?)",
                (
                    cid,
                    now - 2,
                    status,
                    None if status == "healthy" else "refused",
                    "ok" if status == "healthy" else "connection refused",
                ),
            )
            conn.execute(
                "INSERT INTO breakers (component_id, state, since, updated_at) VALUES (?, ?, ?, ?)",
                (cid, breaker, now - 30, now),
            )
            return cid

        component("api", "healthy", "closed")
        db = component("db", "unhealthy", "open")
        incident = conn.execute(
            "INSERT INTO incidents (component_id, opened_at, trigger) VALUES (?, ?, 'breaker open')", (db, now - 30)
        ).lastrowid
        conn.execute(
            "INSERT INTO recovery_events (incident_id, component_id, strategy, step, reason, status, started_at, "
            "finished_at) VALUES (?, ?, 'retry', 0, 'breaker open', 'failed', ?, ?)",
            (incident, db, now - 20, now - 19),
        )
        sql.save_state(
            conn,
            {
                "level": "minimal",
                "score": 50.0,
                "unknown_count": 0,
                "since": now - 30,
                "pending_level": None,
                "pending_since": None,
                "override_level": "emergency",
                "override_until": now + 3600,
                "override_reason": "db migration",
                "updated_at": now,
                "tracker": None,
            },
        )
        sql.save_flags(
            conn,
            {"extras": (False, "level emergency ≥ off_at reduced"), "search": (True, "level emergency < off_at ...")},
            ["extras", "search"],
            now,
        )
        for i, score in enumerate([100.0, 90.0, 70.0, 50.0]):
            sql.insert_snapshot(
                conn, ts=now - 240 + 60 * i, score=score, level="minimal", unknown_count=0, components=2
            )
    return now


def test_json_has_level_score_trend_flags_override_and_every_component_with_its_last_recovery(db_path):
    seed(db_path)
    result = status(db_path, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    deg = data["degradation"]
    assert (deg["level"], deg["computed_level"], deg["score"]) == ("emergency", "minimal", 50.0)
    assert deg["override_active"] is True and deg["override_reason"] == "db migration"
    assert deg["trend"] == "declining" and deg["trend_per_min"] < 0
    assert deg["disabled_flags"] == ["extras"]
    assert [(f["name"], f["enabled"]) for f in data["flags"]] == [("extras", False), ("search", True)]
    by_name = {c["component"]: c for c in data["components"]}
    assert (by_name["api"]["status"], by_name["api"]["breaker_state"], by_name["api"]["last_recovery"]) == (
        "healthy",
        "closed",
        None,
    )
    db = by_name["db"]
    assert (db["status"], db["breaker_state"], db["error_class"]) == ("unhealthy", "open", "refused")
    assert (db["last_recovery"]["strategy"], db["last_recovery"]["status"]) == ("retry", "failed")
    assert data["daemon"] == {"running": False, "pid": None}


def test_text_shows_the_same_facts_and_says_the_daemon_is_not_running(db_path):
    seed(db_path)
    result = status(db_path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "not running: level and score as last recorded" in out
    assert "level    emergency (computed: minimal)" in out
    assert "score    50; trend declining" in out
    assert "override emergency until " in out and ": db migration" in out
    assert "flag off extras: level emergency ≥ off_at reduced" in out
    db_line = next(line for line in out.splitlines() if line.startswith("db "))
    assert "unhealthy" in db_line and "open" in db_line and "retry failed" in db_line


def test_a_database_never_scored_says_so_and_a_held_lock_reads_as_a_running_daemon(db_path):
    lock = DaemonLock(db_path)
    assert lock.try_acquire()
    try:
        result = status(db_path)
        as_json = json.loads(status(db_path, "--json").output)
    finally:
        lock.release()
    assert result.exit_code == 0, result.output
    assert "not scored yet" in result.output and "(no rows)" in result.output
    assert as_json["daemon"]["running"] is True and as_json["degradation"] is None


def test_status_never_writes_the_database(db_path):
    seed(db_path)
    before = db_path.read_bytes()
    assert status(db_path).exit_code == 0
    assert db_path.read_bytes() == before
    assert not DaemonLock(db_path).path.exists()  # no lock file created just to look


def test_a_missing_database_is_a_clear_error(tmp_path):
    result = status(tmp_path / "nope.db")
    assert result.exit_code == 4 and "does not exist" in result.output


def test_a_warnings_text_is_a_detail_like_a_failures():
    from daemon.service.incident_timeline import result_detail

    assert result_detail("degraded", None, "LOAD WARNING - load 5.1") == "LOAD WARNING - load 5.1"
    assert result_detail("unhealthy", "exit_code", "LOAD CRITICAL") == "exit_code: LOAD CRITICAL"
    assert result_detail("healthy", None, "LOAD OK") == ""
    assert result_detail(None, None, None) == ""

"""`healerd explain NAME` on a seeded database: the incident's timeline, condensed checks, JSON, errors."""

from __future__ import annotations

import json

from click.testing import CliRunner
from healer_rows import T0, Rows
from helpers import open_db

from daemon.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def seed_incident(db_path) -> dict[str, int]:
    with open_db(db_path) as conn:
        rows = Rows(conn)
        app, db = rows.component("app"), rows.component("db")
        for i in range(3):
            rows.result(app, T0 - 3 + i)  # healthy before
        for i in range(40):  # a long failure: one run in the output, not 40 lines
            rows.result(app, T0 + i * 0.2, "unhealthy", "refused", "connection refused")
        rows.result(app, T0 + 9, "healthy")
        rows.transition(app, T0 + 0.4, "closed", "open", "2 consecutive failures (refused)")
        rows.transition(app, T0 + 9.1, "half_open", "closed", "1 success in half-open")
        old = rows.incident(app, T0 - 5000, status="resolved", closed_at=T0 - 4990)
        inc = rows.incident(app, T0 + 0.5, status="resolved", closed_at=T0 + 9.2)
        rows.decision(app, inc, T0 + 0.5, "open_incident", "breaker open: a new incident opens")
        rows.decision(app, inc, T0 + 0.6, "run_step", "retry → attempt 1/1 in 10m", step=0, strategy="retry")
        rows.decision(app, None, T0 + 20, "nothing", "breaker closed: nothing to heal")  # after the window
        rows.decision(db, None, T0 + 1, "nothing", "another component's decision")
        rows.event(
            app,
            inc,
            T0 + 0.6,
            "succeeded",
            finished_at=T0 + 1.5,
            verified_at=T0 + 1.4,
            exit_code=0,
            action="run",
            output="retry: exit 0; verified: the check passed 0.10s after the action\nstarted",
        )
        rows.insert(
            "escalations",
            incident_id=inc,
            component_id=app,
            channel="ops",
            kind="initial",
            created_at=T0 + 2,
            status="delivered",
            attempts=1,
            delivered_at=T0 + 2.1,
        )
    return {"app": app, "incident": inc, "old": old}


def test_explain_prints_the_incident_timeline_with_condensed_checks_and_reasons(db_path):
    ids = seed_incident(db_path)
    result = run("explain", "app", "--db", str(db_path))
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"app: incident {ids['incident']} (resolved)")
    assert "closed" in out and "after 8.7s" in out
    assert "checks: 2 healthy, 40 unhealthy; first failure" in out
    assert "unhealthy ×40" in out and out.count("connection refused") == 2  # summary line + one run
    assert "closed → open: 2 consecutive failures (refused)" in out
    assert "open_incident: breaker open: a new incident opens" in out
    assert "run_step retry (step 1): retry → attempt 1/1 in 10m" in out
    assert "retry step 1 attempt 1: succeeded after 0.9s, exit 0, verified" in out
    assert "initial → ops: delivered" in out
    assert "another component's decision" not in out and "nothing to heal" not in out
    lines = [line for line in out.splitlines() if line[:2].isdigit()]
    assert lines == sorted(lines), "timeline is oldest first"


def test_explain_json_and_an_older_incident_by_id(db_path):
    ids = seed_incident(db_path)
    result = run("explain", "app", "--db", str(db_path), "--json")
    data = json.loads(result.output)
    assert data["incident"]["id"] == ids["incident"]
    assert [r["count"] for r in data["checks"]["runs"]] == [1, 40, 1]
    assert [e["status"] for e in data["events"]] == ["succeeded"]
    older = json.loads(run("explain", "app", "--db", str(db_path), "--json", "--incident", str(ids["old"])).output)
    assert older["incident"]["id"] == ids["old"] and older["events"] == []


def test_explain_prefers_the_open_incident_over_a_newer_closed_one(db_path):
    with open_db(db_path) as conn:
        rows = Rows(conn)
        app = rows.component("app")
        still_open = rows.incident(app, T0)
        rows.incident(app, T0 + 100, status="resolved", closed_at=T0 + 200)  # only possible by hand; still
    data = json.loads(run("explain", "app", "--db", str(db_path), "--json").output)
    assert data["incident"]["id"] == still_open and data["incident"]["status"] == "open"


def test_explain_without_an_incident_or_database_says_so(db_path, tmp_path):
    with open_db(db_path) as conn:
        Rows(conn).component("app")
    result = run("explain", "app", "--db", str(db_path))
    assert result.exit_code == 1 and "no incident recorded for 'app'" in result.output
    result = run("explain", "app", "--db", str(tmp_path / "missing.db"))
    assert result.exit_code != 0 and "does not exist" in result.output

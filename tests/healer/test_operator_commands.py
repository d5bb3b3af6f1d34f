"""`healerd ack` / `healerd heal` without a running daemon: recorded, applied to the stored ladder."""

from __future__ import annotations

from click.testing import CliRunner
from healer_rows import T0, Rows
from helpers import open_db

from daemon.cli.main import cli
from daemon.engine.ladder import LadderState, open_incident, record_started
from daemon.service.healer.state import store_fn


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def stored_ladder(db_path, name: str = "app") -> LadderState:
    with open_db(db_path) as conn:
        row = conn.execute(
            "SELECT l.ladder FROM ladder_state l JOIN components c ON c.id = l.component_id WHERE c.name = ?", (name,)
        ).fetchone()
    return LadderState.from_json(row[0] if row else None)


def with_open_incident(db_path, *, started: bool = False) -> int:
    with open_db(db_path) as conn:
        rows = Rows(conn)
        app = rows.component("app")
        inc = rows.incident(app, T0)
        state = open_incident(LadderState(), inc, "breaker", T0)
        if started:
            state = record_started(state, 0, "retry", T0 + 1)
        store_fn(app, state, 60.0, T0)(conn)
    return inc


def test_ack_without_a_daemon_marks_the_incident_and_the_stored_ladder(db_path):
    inc = with_open_incident(db_path)
    result = run("ack", "app", "--db", str(db_path))
    assert result.exit_code == 0, result.output
    assert f"applied: incident {inc} acknowledged" in result.output
    assert "applied without a running daemon" in result.output
    assert "warning" not in result.stderr  # an ack is complete without a daemon
    with open_db(db_path) as conn:
        (acked,) = conn.execute("SELECT acked_at FROM incidents WHERE id = ?", (inc,)).fetchone()
        commands = conn.execute("SELECT command, target, status FROM operator_commands").fetchall()
    assert acked is not None
    assert stored_ladder(db_path).incident.acked_at == acked
    assert commands == [("ack", "app", "applied")]

    again = run("ack", "app", "--db", str(db_path))
    assert again.exit_code == 0 and "already acknowledged" in again.output


def test_ack_with_nothing_to_acknowledge_is_rejected_and_recorded(db_path):
    with open_db(db_path) as conn:
        Rows(conn).component("app")
    result = run("ack", "app", "--db", str(db_path))
    assert result.exit_code == 1 and "rejected: no open incident" in result.output
    unknown = run("ack", "nope", "--db", str(db_path))
    assert unknown.exit_code == 1 and "no component named 'nope'" in unknown.output
    with open_db(db_path) as conn:
        assert conn.execute("SELECT target, status FROM operator_commands ORDER BY id").fetchall() == [
            ("app", "rejected"),
            ("nope", "rejected"),
        ]


def test_heal_without_a_daemon_stores_the_request_for_the_next_start(db_path):
    with open_db(db_path) as conn:
        Rows(conn).component("app")
    result = run("heal", "app", "--db", str(db_path))
    assert result.exit_code == 0 and "recovery requested" in result.output, result.output
    assert stored_ladder(db_path).operator_requested_at is not None
    # It said "applied" and nothing more: no action runs until a daemon starts, and the operator must know.
    assert "warning: no daemon is running" in result.stderr and "nothing runs now" in result.stderr


def test_heal_while_a_step_is_in_progress_is_rejected(db_path):
    with_open_incident(db_path, started=True)
    result = run("heal", "app", "--db", str(db_path))
    assert result.exit_code == 1 and "already in progress" in result.output
    assert stored_ladder(db_path).operator_requested_at is None

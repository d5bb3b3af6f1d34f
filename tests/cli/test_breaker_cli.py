"""`healerd breaker` with no daemon running: the CLI applies the command itself and records it."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from helpers import open_db

from daemon.cli.main import cli
from daemon.config.models import Component
from daemon.service.runtime import component_row
from daemon.store import state as store_state

SPEC = {"name": "app", "check": {"kind": "tcp", "port": 1}, "breaker": {"open_for": "30s"}}


def seed_component(db_path) -> None:
    with open_db(db_path) as conn:
        store_state.sync_components(conn, [component_row(Component.model_validate(SPEC), "p.toml")], time.time())


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def breaker_row(db_path):
    with open_db(db_path) as conn:
        return conn.execute(
            "SELECT b.state, b.open_until FROM breakers b JOIN components c ON c.id = b.component_id "
            "WHERE c.name = 'app'"
        ).fetchone()


def test_open_for_a_while_sets_a_stored_deadline_and_records_command_and_transition(db_path):
    seed_component(db_path)
    before = time.time()
    result = invoke("breaker", "open", "app", "--for", "10m", "--reason", "deploy", "--db", str(db_path))
    assert result.exit_code == 0 and result.output.startswith("applied: breaker open for 10m")
    state, open_until = breaker_row(db_path)
    assert state == "open" and before + 600 <= open_until <= time.time() + 600
    with open_db(db_path) as conn:
        cmd = conn.execute("SELECT command, target, args, status, outcome FROM operator_commands").fetchone()
        reasons = [r[0] for r in conn.execute("SELECT reason FROM breaker_transitions")]
    assert cmd[:2] == ("breaker_open", "app") and json.loads(cmd[2]) == {"for": "10m", "reason": "deploy"}
    assert cmd[3] == "applied" and "without a running daemon" in cmd[4]
    assert len(reasons) == 1 and "10m" in reasons[0]


def test_open_without_for_is_forced_open_and_reset_closes_it(db_path):
    seed_component(db_path)
    assert invoke("breaker", "open", "app", "--db", str(db_path)).exit_code == 0
    assert breaker_row(db_path) == ("forced_open", None)
    assert invoke("breaker", "reset", "app", "--db", str(db_path)).exit_code == 0
    assert breaker_row(db_path)[0] == "closed"


def test_disable_keeps_the_breaker_closed_whatever_happens(db_path):
    seed_component(db_path)
    assert invoke("breaker", "disable", "app", "--db", str(db_path)).exit_code == 0
    assert breaker_row(db_path)[0] == "disabled"


def test_an_unknown_component_is_rejected_with_exit_1_and_still_recorded(db_path):
    seed_component(db_path)
    result = invoke("breaker", "reset", "nope", "--db", str(db_path))
    assert result.exit_code == 1 and "rejected: no component named 'nope'" in result.output
    with open_db(db_path) as conn:
        assert conn.execute("SELECT status FROM operator_commands").fetchall() == [("rejected",)]


def test_a_bad_duration_is_a_usage_error_and_records_nothing(db_path):
    seed_component(db_path)
    result = CliRunner().invoke(cli, ["breaker", "open", "app", "--for", "ten", "--db", str(db_path)])
    assert result.exit_code == 2 and "--for" in result.output
    with open_db(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM operator_commands").fetchone() == (0,)


def test_the_reason_of_open_and_disable_is_recorded_and_shown(db_path):
    """`--reason` used to be accepted and dropped by `breaker open` and `breaker disable`."""
    seed_component(db_path)
    opened = invoke("breaker", "open", "app", "--reason", "db migration INC-42", "--db", str(db_path))
    assert opened.exit_code == 0 and "db migration INC-42" in opened.output
    shown = invoke("report", "active_circuit_breakers", "--format", "json", "--db", str(db_path))
    assert "db migration INC-42" in shown.output
    disabled = invoke("breaker", "disable", "app", "--reason", "flaky probe, ticket 7", "--db", str(db_path))
    assert disabled.exit_code == 0 and "flaky probe, ticket 7" in disabled.output
    with open_db(db_path) as conn:
        reasons = [r[0] for r in conn.execute("SELECT reason FROM breaker_transitions ORDER BY id")]
    assert "db migration INC-42" in reasons[0] and "flaky probe, ticket 7" in reasons[1]

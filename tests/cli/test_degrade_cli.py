"""`healerd degrade set|clear` without a daemon: applied to the stored state under the daemon lock.

Against a running daemon (applied within a second, expiring by itself, surviving a restart) see
tests/daemon/test_degradation_daemon.py.
"""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from helpers import open_db

from daemon.cli.main import cli
from daemon.service.lock import DaemonLock


def degrade(db_path, *args):
    return CliRunner().invoke(cli, ["degrade", *args, "--db", str(db_path)])


def test_set_without_a_daemon_stores_the_override_and_records_the_command_and_the_change(db_path):
    before = time.time()
    result = degrade(db_path, "set", "minimal", "--for", "1h", "--reason", "db migration")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("applied: override minimal until ")
    assert "level full → minimal" in result.output and "(applied without a running daemon)" in result.output
    assert "state.json and the feature flags your services read are published only when a daemon starts" in (
        result.stderr
    )

    with open_db(db_path) as conn:
        command = conn.execute("SELECT command, args, status FROM operator_commands").fetchall()
        history = conn.execute("SELECT from_level, to_level, reason FROM degradation_history").fetchall()
        level, override, until, reason, tracker = conn.execute(
            "SELECT level, override_level, override_until, override_reason, tracker FROM degradation_state"
        ).fetchone()
        view = conn.execute("SELECT level, computed_level, override_active FROM active_degradation").fetchone()
    args = json.dumps({"level": "minimal", "for": "1h", "reason": "db migration"})
    assert command == [("degrade_set", args, "applied")]
    assert history[0][:2] == ("full", "minimal") and history[0][2].endswith(": db migration")
    assert (level, override, reason) == ("full", "minimal", "db migration")
    assert before + 3600 <= until <= time.time() + 3600
    assert json.loads(tracker)["override"]["until"] == until  # what the daemon restores from
    assert view == ("minimal", "full", 1)


def test_clear_without_a_daemon_ends_the_override_and_records_it(db_path):
    degrade(db_path, "set", "emergency", "--for", "30m", "--reason", "drill")
    result = degrade(db_path, "clear", "--reason", "drill over")
    assert result.exit_code == 0, result.output
    assert "override emergency cleared (drill over); level emergency → full" in result.output
    again = degrade(db_path, "clear")
    assert again.exit_code == 0 and "no override was set" in again.output
    with open_db(db_path) as conn:
        assert conn.execute("SELECT override_level FROM degradation_state").fetchone() == (None,)
        history = [t for (t,) in conn.execute("SELECT to_level FROM degradation_history ORDER BY id")]
        statuses = conn.execute("SELECT command, status FROM operator_commands ORDER BY id").fetchall()
    assert history == ["emergency", "full"]  # the no-op clear changed nothing, so it adds no history
    assert statuses == [("degrade_set", "applied"), ("degrade_clear", "applied"), ("degrade_clear", "applied")]


def test_a_bad_level_or_duration_is_a_usage_error_and_records_nothing(db_path):
    assert degrade(db_path, "set", "panic", "--for", "1h", "--reason", "x").exit_code == 2
    bad_for = degrade(db_path, "set", "minimal", "--for", "soon", "--reason", "x")
    assert bad_for.exit_code == 2 and "--for" in bad_for.output
    assert degrade(db_path, "set", "minimal", "--for", "0s", "--reason", "x").exit_code == 2
    assert degrade(db_path, "set", "minimal", "--for", "1h").exit_code == 2  # a reason is required
    with open_db(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM operator_commands").fetchone() == (0,)


def test_a_missing_database_is_a_clear_error(tmp_path):
    result = degrade(tmp_path / "nope.db", "set", "minimal", "--for", "1h", "--reason", "x")
    assert result.exit_code == 4  # EXIT_NOT_A_DATABASE
    assert "does not exist" in result.output and not (tmp_path / "nope.db").exists()


def test_with_the_daemon_lock_held_the_command_is_left_pending_for_the_daemon(db_path, monkeypatch):
    import daemon.cli.breaker as breaker_cli

    monkeypatch.setattr(breaker_cli, "WAIT_FOR_DAEMON_S", 0.2)  # nobody will apply it: don't wait 5 s
    lock = DaemonLock(db_path)
    assert lock.try_acquire()
    try:
        result = degrade(db_path, "set", "reduced", "--for", "1h", "--reason", "x")
    finally:
        lock.release()
    assert result.exit_code == 0 and result.output.startswith("pending:")
    with open_db(db_path) as conn:
        assert conn.execute("SELECT status FROM operator_commands").fetchall() == [("pending",)]
        assert conn.execute("SELECT count(*) FROM degradation_state").fetchone() == (0,)

"""Graceful degradation in a real daemon: real TCP listeners, the real CLI, state.json on disk.

What the in-process tests (tests/service/test_degradation_service.py) cannot show: that the pieces are
wired in `healerd run` — a listener that goes away changes the level, the flags, state.json, the
history and runs on_change; `healerd degrade` reaches the running daemon and the override ends by
itself; an override set while the daemon is stopped is in force when it starts.
"""

from __future__ import annotations

import json
import sys

from click.testing import CliRunner
from helpers import wait_until

from daemon.cli.main import cli

SETTINGS = """
[daemon]
watch_config = false
fast_every = "200ms"

[degradation]
hold = "1s"
snapshot_every = "1s"
{on_change}

[[degradation.flag]]
name = "extras"
off_at = "reduced"

[[degradation.flag]]
name = "checkout"
off_at = "emergency"
components = ["b"]
"""


def component(name: str, port: int) -> str:
    return f"""
    [[component]]
    name = "{name}"
    [component.check]
    kind = "tcp"
    port = {port}
    every = "200ms"
    timeout = "150ms"
    [component.breaker]
    consecutive_failures = 2
    open_for = "500ms"
    half_open_successes = 1
    """


def setup(config_dir, listener, on_change: str = ""):
    a, b = listener(), listener()
    config_dir.settings(SETTINGS.format(on_change=on_change))
    config_dir.policy("p.toml", component("a", a.port) + component("b", b.port))
    return a, b


HISTORY = "SELECT to_level, reason FROM degradation_history ORDER BY id"


def state(tmp_path) -> dict:
    try:
        return json.loads((tmp_path / "run" / "state.json").read_text())
    except FileNotFoundError:
        return {}


def degrade(db, *args):
    return CliRunner().invoke(cli, ["degrade", *args, "--db", str(db)])


def test_closing_a_listener_drops_the_level_with_its_reason_flags_state_file_and_on_change_then_it_recovers(
    config_dir, start_daemon, listener, tmp_path
):
    out = tmp_path / "changes.txt"
    script = (
        f"import os; open({str(out)!r}, 'a')"
        ".write(os.environ['HEALERD_OLD_LEVEL'] + '>' + os.environ['HEALERD_NEW_LEVEL'] + '\\n')"
    )
    argv = json.dumps([sys.executable, "-c", script])
    a, b = setup(config_dir, listener, on_change=f"on_change = {{ run = {argv} }}")
    d = start_daemon(config_dir)
    wait_until(lambda: state(tmp_path).get("score") == 100.0, message=lambda: str(state(tmp_path)))
    assert state(tmp_path)["level"] == "full" and state(tmp_path)["flags"] == {"extras": True, "checkout": True}

    port = b.port
    b.close()
    doc = wait_until(
        lambda: (s := state(tmp_path)).get("level") == "minimal" and s, message=lambda: str(state(tmp_path))
    )
    assert doc["score"] == 50.0 and doc["flags"] == {"extras": False, "checkout": False}
    # state.json is published without waiting for the commit (see service/degradation/service.py): poll the rows.
    history = wait_until(lambda: d.query("SELECT from_level, to_level, reason FROM degradation_history"))
    assert history == [("full", "minimal", "score 50.0 < 70 (minimal)")]
    off = "SELECT reason FROM feature_flag_state WHERE name = 'checkout' AND NOT enabled"
    (reason,) = wait_until(lambda: d.query(off))[0]
    assert reason.startswith("component b ")  # unhealthy, or its breaker open: down either way

    listener(port)  # b is back on the same port
    wait_until(lambda: state(tmp_path).get("level") == "full", timeout=20, message=lambda: str(state(tmp_path)))
    history = wait_until(lambda: len(h := d.query(HISTORY)) == 2 and h)
    assert [t for t, _ in history] == ["minimal", "full"] and history[1][1].startswith("score 100.0 ≥ 95 for ")
    wait_until(
        lambda: out.exists() and out.read_text() == "full>minimal\nminimal>full\n",
        message=lambda: out.read_text() if out.exists() else "no on_change yet",
    )
    assert d.query("SELECT count(*) > 1 FROM health_snapshots") == [(1,)]
    assert d.stop() == 0
    a.close()


def test_an_override_set_with_the_cli_reaches_the_running_daemon_and_ends_by_itself(
    config_dir, start_daemon, listener, tmp_path
):
    setup(config_dir, listener)
    d = start_daemon(config_dir)
    wait_until(lambda: state(tmp_path).get("score") == 100.0)

    result = degrade(d.db, "set", "emergency", "--for", "2s", "--reason", "fire drill")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("applied: override emergency") and "without a running daemon" not in result.output
    doc = state(tmp_path)  # the daemon published before it marked the command applied
    assert doc["level"] == "emergency" and doc["override"]["reason"] == "fire drill"
    assert doc["flags"] == {"extras": False, "checkout": False}
    status = json.loads(CliRunner().invoke(cli, ["status", "--json", "--db", str(d.db)]).output)
    assert status["daemon"]["running"] and status["degradation"]["override_active"]

    wait_until(lambda: state(tmp_path).get("level") == "full", timeout=15, message=lambda: str(state(tmp_path)))
    assert state(tmp_path)["override"] is None
    history = wait_until(lambda: len(h := d.query(HISTORY)) == 2 and h)
    reasons = [r for _, r in history]
    assert reasons[0].endswith(": fire drill") and reasons[1].startswith("override emergency expired at")
    assert d.query("SELECT command, status FROM operator_commands") == [("degrade_set", "applied")]
    assert d.stop() == 0


def test_an_override_set_while_the_daemon_is_stopped_is_in_force_when_it_starts(
    config_dir, start_daemon, listener, tmp_path
):
    setup(config_dir, listener)
    d = start_daemon(config_dir)
    wait_until(lambda: state(tmp_path).get("score") == 100.0)
    assert d.stop() == 0

    offline = degrade(d.db, "set", "minimal", "--for", "1h", "--reason", "maintenance window")
    assert offline.exit_code == 0 and "(applied without a running daemon)" in offline.output

    d = start_daemon(config_dir)  # READY comes after the first publish
    doc = state(tmp_path)
    assert doc["level"] == "minimal" and doc["override"]["reason"] == "maintenance window"
    wait_until(lambda: state(tmp_path).get("score") == 100.0)
    assert state(tmp_path)["level"] == "minimal"  # a healthy score does not end an override

    cleared = degrade(d.db, "clear", "--reason", "done early")
    assert cleared.exit_code == 0 and "level minimal → full" in cleared.output
    assert state(tmp_path)["level"] == "full"
    assert [t for (t,) in d.query("SELECT to_level FROM degradation_history ORDER BY id")] == ["minimal", "full"]
    assert d.stop() == 0


def test_an_override_applied_by_the_daemon_survives_kill_9(config_dir, start_daemon, listener, tmp_path):
    import os
    import signal

    setup(config_dir, listener)
    d = start_daemon(config_dir)
    wait_until(lambda: state(tmp_path).get("score") == 100.0)
    result = degrade(d.db, "set", "reduced", "--for", "1h", "--reason", "before the crash")
    assert result.exit_code == 0 and result.output.startswith("applied:"), result.output
    os.killpg(d.pid, signal.SIGKILL)  # applied means durable: nothing is flushed at exit
    d.proc.wait(10)
    (state_file := tmp_path / "run" / "state.json").unlink()  # only the database may carry it over

    d = start_daemon(config_dir)
    doc = json.loads(state_file.read_text())
    assert doc["level"] == "reduced" and doc["override"]["reason"] == "before the crash"
    assert d.stop() == 0

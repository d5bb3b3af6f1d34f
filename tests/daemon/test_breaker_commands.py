"""`healerd breaker` against a running daemon: the daemon applies the command and reports the outcome."""

from __future__ import annotations

import subprocess
import sys

from helpers import wait_until


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=60)


def test_the_running_daemon_applies_breaker_commands_and_keeps_the_state(config_dir, start_daemon, listener):
    config_dir.policy(
        "a.toml",
        f"""
    [[component]]
    name = "a"
    [component.check]
    kind = "tcp"
    port = {listener().port}
    every = "200ms"
    timeout = "150ms"
    """,
    )
    d = start_daemon(config_dir)
    wait_until(lambda: d.query("SELECT count(*) FROM check_results")[0][0] >= 1, 30)

    opened = cli("breaker", "open", "a", "--db", str(d.db))
    assert opened.returncode == 0 and opened.stdout.startswith("applied: breaker forced open")
    assert "without a running daemon" not in opened.stdout
    # healthy checks keep coming, and the operator's state holds against them
    n = d.query("SELECT count(*) FROM check_results")[0][0]
    wait_until(lambda: d.query("SELECT count(*) FROM check_results")[0][0] >= n + 5, 30)
    assert d.query("SELECT state FROM breakers") == [("forced_open",)]

    reset = cli("breaker", "reset", "a", "--db", str(d.db))
    assert reset.returncode == 0 and reset.stdout.startswith("applied: breaker reset to closed")
    assert d.query("SELECT state FROM breakers") == [("closed",)]
    assert [r[0] for r in d.query("SELECT to_state FROM breaker_transitions ORDER BY id")] == ["forced_open", "closed"]
    assert d.query("SELECT status FROM operator_commands ORDER BY id") == [("applied",), ("applied",)]
    assert d.stop() == 0

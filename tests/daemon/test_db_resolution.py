"""Where the database is: the same answer for every verb, and the Quick start's `report --list` finds it.

The Quick start runs `healerd run --config examples --db example.db` and then suggests `healerd report
--list` in another terminal, without --db: that used to read /var/lib/healerd/healerd.db (or nothing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_lifecycle import tcp_component

from daemon.cli import options


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HEALERD_DB", "STATE_DIRECTORY", "HEALERD_CONFIG", "CONFIGURATION_DIRECTORY")
    }
    return {**env, "XDG_STATE_HOME": str(tmp_path / "xdg"), **extra}


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd
    )


def test_read_verbs_without_db_or_config_find_the_running_daemons(config_dir, start_daemon, listener, tmp_path):
    config_dir.policy("a.toml", tcp_component("a", listener().port, every="5s"))
    env = _env(tmp_path)
    d = start_daemon(config_dir, tmp_path / "example.db", env={"XDG_STATE_HOME": env["XDG_STATE_HOME"]})
    other = tmp_path / "elsewhere"
    other.mkdir()

    listed = _cli(env, other, "report", "--list")
    assert listed.returncode == 0, listed.stderr
    assert "current_system_status" in listed.stdout

    status = _cli(env, other, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert f'"pid": {d.pid}' in status.stdout

    chaos = _cli(env, other, "chaos", "list")  # needs the config: the daemon recorded its directory
    assert chaos.returncode == 0, chaos.stderr
    assert f"no experiments in {config_dir.root.resolve() / 'experiments.d'}" in chaos.stdout

    explicit = _cli({**env, "HEALERD_DB": str(tmp_path / "nope.db")}, other, "report", "--list")
    assert explicit.returncode == 4 and f"{tmp_path / 'nope.db'} does not exist" in explicit.stderr


def test_the_order_is_flag_env_state_directory_running_daemon_system_last(tmp_path, monkeypatch):
    for name in ("HEALERD_DB", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    system = tmp_path / "var" / "healerd.db"
    monkeypatch.setattr(options, "SYSTEM_DB", system)
    last = tmp_path / "example.db"
    last.write_bytes(b"")

    assert options.resolve_db(None) == system  # nothing known: the system default (and its error)
    options.note_last_db(last)
    assert options.resolve_db(None) == last  # the last daemon's database, no system one
    system.parent.mkdir()
    system.write_bytes(b"")
    assert options.resolve_db(None) == system  # a stopped daemon's database yields to the system one
    from daemon.service.lock import DaemonLock

    with DaemonLock(last) as lock:
        assert lock.try_acquire()
        assert options.resolve_db(None) == last  # ... but not a running one
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert options.resolve_db(None) == tmp_path / "state" / "healerd.db"
    monkeypatch.setenv("HEALERD_DB", str(tmp_path / "env.db"))
    assert options.resolve_db(None) == tmp_path / "env.db"
    assert options.resolve_db(tmp_path / "flag.db") == tmp_path / "flag.db"


def test_cli_verbs_fill_config_variables_from_the_running_daemons_environment(
    config_dir, start_daemon, listener, tmp_path
):
    """The daemon's ${VAR}s come from its unit (Environment=), which the operator's shell lacks: `check --run`
    used to say "environment variable … is not set" (or probe the default port) for a component the daemon
    checks fine."""
    port = listener().port
    config_dir.policy(
        "a.toml", tcp_component("a", port, every="5s").replace(f"port = {port}", 'port = "${HEALERD_T_PORT}"')
    )
    env = _env(tmp_path)
    env.pop("HEALERD_T_PORT", None)
    d = start_daemon(
        config_dir, tmp_path / "h.db", env={"XDG_STATE_HOME": env["XDG_STATE_HOME"], "HEALERD_T_PORT": str(port)}
    )
    ran = _cli(env, tmp_path, "check", "--run", "a", "--db", str(d.db))
    assert ran.returncode == 0 and ran.stdout.startswith("a: healthy"), (ran.stdout, ran.stderr)
    shown = _cli(env, tmp_path, "config", "show", "--db", str(d.db))
    assert shown.returncode == 0, shown.stderr
    assert (
        f"port = {port}\n" in shown.stdout and f"environment of the daemon running on it (pid {d.pid})" in shown.stdout
    )
    d.stop()
    alone = _cli(env, tmp_path, "check", "--run", "a", "--db", str(d.db), "--config", str(config_dir.root))
    assert alone.returncode == 3 and "HEALERD_T_PORT is not set" in alone.stderr  # no daemon: its own env

"""The install section's promise: the shipped example, with its config tree read-only, heals itself.

This is the shipped unit's situation (ProtectSystem= and a root-owned /etc/healerd): nothing in the
config directory may need to be writable. The example's runtime files go under $RUNTIME_DIRECTORY, its
ports come from the environment (free ports here, so the Quick start daemon can run alongside), and a
restore step writes a checkpointed file outside the config directory.

Nothing is running at first; healerd must notice (breakers open), heal `db` first (app depends on it),
then `app`, each step verified by the component's own check. It pins the example as shipped, with its
real timings (5 s checks, 3 failures), so it is slow. The read-only mount needs root and `unshare -m`;
where that cannot run, the same scenario runs on a writable copy and the reason is printed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_until

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
READONLY_EXEC = Path(__file__).resolve().parent / "readonly_exec.py"


def _pids_from(run_dir: Path) -> list[int]:
    pids = []
    for pidfile in run_dir.glob("*.pid"):
        try:
            pids.append(int(pidfile.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    return pids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _readonly_prefix(directory: Path) -> tuple[list[str], str | None]:
    """argv prefix that runs a command with `directory` read-only, or ([], why it cannot here)."""
    if os.geteuid() != 0:
        return [], "not root: cannot bind-mount the config directory read-only"
    unshare = shutil.which("unshare")
    if unshare is None:
        return [], "unshare(1) is not installed"
    prefix = [unshare, "-m", "--propagation", "private", sys.executable, str(READONLY_EXEC), str(directory), "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return [], f"read-only bind mount not permitted here: {probe.stderr.strip()[-300:]}"
    return prefix, None


PROBE_POLICY = """\
# A restore into a writable path outside the config directory (the README's /etc/app/app.conf case).
[[component]]
name = "probe"
[component.check]
kind = "file"
path = "{target}"
min_size = "4B"
every = "1s"
timeout = "1s"
[component.breaker]
consecutive_failures = 2
open_for = "1s"
half_open_successes = 1
[[component.recovery]]
strategy = "restore"
checkpoint = "probe-conf"
verify_within = "20s"

[[checkpoint]]
name = "probe-conf"
component = "probe"
paths = ["{target}"]
every = "1h"
"""


def _query(db: Path, sql: str, params=()) -> list[tuple]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        conn.close()


@pytest.mark.slow
def test_the_example_heals_with_its_config_tree_read_only_and_restores_outside_it(tmp_path):
    config = tmp_path / "etc" / "healerd"
    shutil.copytree(EXAMPLES, config, ignore=shutil.ignore_patterns("run", "__pycache__"))
    srv = tmp_path / "srv"
    srv.mkdir()
    target = srv / "probe.conf"
    target.write_text("workers = 4\n")
    app_conf = srv / "app.conf"
    shutil.copyfile(EXAMPLES / "services" / "app.conf", app_conf)
    (config / "policies.d" / "zz-probe.toml").write_text(PROBE_POLICY.format(target=target))
    for root, _dirs, files in os.walk(tmp_path / "etc"):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(Path(root) / name, 0o644)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    db = tmp_path / "state" / "healerd.db"
    log = tmp_path / "daemon.log"
    prefix, why_not = _readonly_prefix(config)
    if why_not:
        print(f"read-only config not exercised: {why_not}")
    env = {
        **os.environ,
        "RUNTIME_DIRECTORY": str(run_dir),
        "HEALERD_EXAMPLE_APP_CONF": str(app_conf),
        "HEALERD_EXAMPLE_APP_PORT": str(_free_port()),
        "HEALERD_EXAMPLE_STANDBY_PORT": str(_free_port()),
        "HEALERD_EXAMPLE_DB_PORT": str(_free_port()),
    }
    with open(log, "wb") as out:
        daemon = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "daemon",
                "run",
                "--config",
                str(config),
                "--db",
                str(db),
                "--log-format",
                "json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:

        def verified(name: str, strategy: str = "retry") -> bool:
            return bool(
                _query(
                    db,
                    "SELECT 1 FROM recovery_events r JOIN components c ON c.id = r.component_id "
                    "WHERE c.name = ? AND r.strategy = ? AND r.status = 'succeeded'",
                    (name, strategy),
                )
            )

        tail = lambda: log.read_text()[-3000:]  # noqa: E731
        # the probe's checkpoint is taken while it is healthy; then its file is damaged and restored
        wait_until(
            lambda: _query(db, "SELECT 1 FROM checkpoints WHERE name = 'probe-conf' AND status = 'verified'"),
            60,
            message=tail,
        )
        target.write_text("")
        wait_until(lambda: verified("probe", "restore"), 60, message=tail)
        assert target.read_text() == "workers = 4\n"

        wait_until(lambda: verified("db"), 120, message=tail)
        wait_until(lambda: verified("app"), 120, message=tail)
        first_app_step = _query(
            db,
            "SELECT min(r.started_at) FROM recovery_events r JOIN components c "
            "ON c.id = r.component_id WHERE c.name = 'app'",
        )[0][0]
        db_healed = _query(
            db,
            "SELECT min(r.finished_at) FROM recovery_events r JOIN components c "
            "ON c.id = r.component_id WHERE c.name = 'db' AND r.status = 'succeeded'",
        )[0][0]
        assert db_healed <= first_app_step  # root cause first: app waited for db
        assert {p.name for p in run_dir.glob("*.pid")} >= {"db.pid", "app.pid"}  # runtime files outside the config
        assert not (config / "run").exists()
        assert "Read-only file system" not in log.read_text()
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(10)
        for pid in _pids_from(run_dir) + _pids_from(config / "run"):  # the services the healer started
            for kill in (os.killpg, os.kill):  # its group if it leads one, and the pid itself anyway
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

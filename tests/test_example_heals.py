"""The Quick start's promise: on a fresh copy of examples/, the daemon brings the stopped services up.

Nothing is running at first; healerd must notice (breakers open), heal `db` first (app depends on it),
then `app`, each step verified by the component's own check. This pins the example as shipped, with
its real timings (5 s checks, 3 failures), so it is slow.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_until

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _pids_from(run_dir: Path) -> list[int]:
    pids = []
    for pidfile in run_dir.glob("*.pid"):
        try:
            pids.append(int(pidfile.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    return pids


@pytest.mark.slow
def test_the_example_daemon_heals_its_stopped_services_from_a_fresh_copy(tmp_path):
    config = tmp_path / "examples"
    shutil.copytree(EXAMPLES, config, ignore=shutil.ignore_patterns("run", "__pycache__"))
    for root, dirs, files in os.walk(config):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(Path(root) / name, 0o644)
    db = tmp_path / "example.db"
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "daemon", "run", "--config", str(config), "--db", str(db),
                                   "--log-format", "json"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def verified(name: str) -> bool:
            if not db.exists():
                return False
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
            try:
                return bool(conn.execute(
                    "SELECT 1 FROM recovery_events r JOIN components c ON c.id = r.component_id "
                    "WHERE c.name = ? AND r.status = 'succeeded'", (name,)).fetchone())
            except sqlite3.OperationalError:
                return False  # not migrated yet
            finally:
                conn.close()

        wait_until(lambda: verified("db"), 120, message=lambda: log.read_text()[-2000:])
        wait_until(lambda: verified("app"), 120, message=lambda: log.read_text()[-2000:])
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            first_app_step = conn.execute(
                "SELECT min(r.started_at) FROM recovery_events r JOIN components c ON c.id = r.component_id "
                "WHERE c.name = 'app'").fetchone()[0]
            db_healed = conn.execute(
                "SELECT min(r.finished_at) FROM recovery_events r JOIN components c ON c.id = r.component_id "
                "WHERE c.name = 'db' AND r.status = 'succeeded'").fetchone()[0]
        finally:
            conn.close()
        assert db_healed <= first_app_step  # root cause first: app waited for db
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(10)
        for pid in _pids_from(config / "run"):  # the services the healer started, by their pidfiles
            for kill in (os.killpg, os.kill):  # its group if it leads one, and the pid itself anyway
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

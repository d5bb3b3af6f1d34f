"""`healerd backup FILE`: a consistent, verified, self-contained copy taken while the daemon writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from helpers import wait_until
from test_lifecycle import tcp_component

from daemon.errors import EXIT_NOT_A_DATABASE
from daemon.store import migrate


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=60)


def _count(db: Path, table: str) -> int:
    conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def test_a_backup_taken_while_the_daemon_writes_is_complete_verified_and_one_file(
    config_dir, start_daemon, listener, tmp_path
):
    config_dir.policy("a.toml", tcp_component("a", listener().port, every="200ms"))
    d = start_daemon(config_dir, tmp_path / "live.db")
    wait_until(lambda: _count(d.db, "check_results") >= 10, timeout=30)
    before = _count(d.db, "check_results")
    copy = tmp_path / "copy.db"
    done = _cli("backup", str(copy), "--db", str(d.db))
    assert done.returncode == 0, done.stderr
    assert f"revision {migrate.head()}, quick_check ok" in done.stdout
    assert d.proc.poll() is None  # the daemon was not disturbed
    # What was committed before the backup started is in the copy, and the copy needs no -wal of its own.
    assert _count(copy, "check_results") >= before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    status = _cli("status", "--db", str(copy))
    assert status.returncode == 0 and "a " in status.stdout, status.stderr


def test_backup_refuses_an_existing_target_the_database_itself_and_a_wrong_database(template_db, tmp_path):
    db = tmp_path / "h.db"
    db.write_bytes(template_db.read_bytes())
    target = tmp_path / "b.db"
    target.write_text("keep me")
    refused = _cli("backup", str(target), "--db", str(db))
    assert refused.returncode == 1 and "exists; pass --force" in refused.stderr
    assert target.read_text() == "keep me"
    forced = _cli("backup", str(target), "--db", str(db), "--force")
    assert forced.returncode == 0, forced.stderr
    assert _count(target, "components") == _count(db, "components")
    itself = _cli("backup", str(db), "--db", str(db), "--force")
    assert itself.returncode == 1 and "is the database itself" in itself.stderr
    wrong = _cli("backup", str(tmp_path / "c.db"), "--db", str(tmp_path / "missing.db"))
    assert wrong.returncode == EXIT_NOT_A_DATABASE
    assert not (tmp_path / "c.db").exists() and not (tmp_path / "missing.db").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

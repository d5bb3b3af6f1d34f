"""Every verb pointed at the wrong file says so in one line, with a distinct exit code, and changes nothing.

Before: `no such table` tracebacks on an empty or foreign SQLite file, `report --list` printing nothing
with exit 0, and operator commands creating an empty database wherever --db pointed.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from daemon.cli.main import cli
from daemon.errors import EXIT_NOT_A_DATABASE, EXIT_STARTUP_FAILURE

VERBS = [
    ["status"],
    ["status", "--json"],
    ["explain", "app"],
    ["breaker", "reset", "app"],
    ["breaker", "open", "app", "--reason", "maintenance"],
    ["breaker", "disable", "app"],
    ["heal", "app"],
    ["ack", "app"],
    ["degrade", "set", "reduced", "--for", "1h", "--reason", "test"],
    ["degrade", "clear"],
    ["checkpoint", "list"],
    ["chaos", "history"],
    ["chaos", "journal", "1"],
    ["chaos", "run", "app-crash"],
    ["report", "--list"],
    ["report", "current_system_status"],
]


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart by default
        return CliRunner()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (9.5)")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v))
@pytest.mark.parametrize("kind", ["empty", "foreign"])
def test_a_verb_on_a_sqlite_file_without_healerd_schema_says_so_in_one_line(tmp_path, verb, kind):
    db = tmp_path / "other.db"
    if kind == "empty":
        db.write_bytes(b"")
    else:
        _foreign(db)
    before = _digest(db)
    result = _runner().invoke(cli, [*verb, "--db", str(db)])
    assert result.exit_code == EXIT_NOT_A_DATABASE, (result.output, result.exception)
    if kind == "empty":
        assert result.stderr == (
            f"healerd: {db} is not a healerd database (no schema); run `healerd migrate --db {db}`\n"
        )
    else:
        # Not "run `healerd migrate`": that command refuses another application's file without --force.
        assert result.stderr == (
            f"healerd: {db} is another application's SQLite database (tables: invoices), not healerd's; "
            f"is --db (or $HEALERD_DB) right? `healerd migrate --db {db} --force` would add healerd's schema to it\n"
        )
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no lock, no -wal left behind


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v))
def test_a_verb_on_a_missing_database_says_so_and_creates_nothing(tmp_path, verb):
    db = tmp_path / "typo" / "healerd.db"
    result = _runner().invoke(cli, [*verb, "--db", str(db)])
    assert result.exit_code == EXIT_NOT_A_DATABASE, (result.output, result.exception)
    assert result.stderr.startswith(f"healerd: {db} does not exist")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not db.parent.exists()


def test_a_file_that_is_not_sqlite_at_all_is_named_as_such(tmp_path):
    db = tmp_path / "notes.txt"
    db.write_text("hello " * 1000)
    result = _runner().invoke(cli, ["status", "--db", str(db)])
    assert result.exit_code == EXIT_NOT_A_DATABASE
    assert result.stderr == f"healerd: {db} is not a SQLite database\n"


def test_migrate_refuses_another_applications_database_unless_forced(tmp_path):
    db = _foreign(tmp_path / "app.db")
    before = _digest(db)
    refused = _runner().invoke(cli, ["migrate", "--db", str(db)])
    assert refused.exit_code == EXIT_NOT_A_DATABASE  # the remedy is the same as a read verb's: fix --db
    assert "another application's SQLite database (tables: invoices)" in refused.stderr
    assert "--force" in refused.stderr
    assert _digest(db) == before
    forced = _runner().invoke(cli, ["migrate", "--db", str(db), "--force"])
    assert forced.exit_code == 0, forced.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT total FROM invoices").fetchall() == [(9.5,)]
    assert conn.execute("SELECT count(*) FROM components").fetchone() == (0,)
    conn.close()


def test_migrate_status_on_another_applications_database_says_foreign_and_fails(tmp_path):
    db = _foreign(tmp_path / "app.db")
    result = _runner().invoke(cli, ["migrate", "--status", "--db", str(db)])
    assert result.exit_code == EXIT_NOT_A_DATABASE
    assert "state:    foreign: " in result.output and "(tables: invoices)" in result.output
    assert "behind" not in result.output


@pytest.mark.parametrize("verb", [*VERBS, ["migrate"], ["migrate", "--status"]], ids=lambda v: " ".join(v))
def test_a_directory_given_as_database_is_refused_with_the_database_exit_code(tmp_path, verb):
    """It was click's usage error (exit 2, "File 'd' is a directory") for every verb."""
    db = tmp_path / "state"
    db.mkdir()
    result = _runner().invoke(cli, [*verb, "--db", str(db)])
    assert result.exit_code == EXIT_NOT_A_DATABASE, (result.output, result.exception)
    assert "is a directory" in result.stderr
    assert list(db.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "daemon", "run", *args], capture_output=True, text=True, timeout=60, env=env
    )


def _remembered(tmp_path: Path, previous: str) -> tuple[dict, Path]:
    import os

    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    remembered = tmp_path / "xdg" / "healerd" / "last-db"
    remembered.parent.mkdir(parents=True)
    remembered.write_text(previous)
    return env, remembered


@pytest.mark.parametrize("kind", ["foreign", "directory", "newer"])
def test_run_that_cannot_start_on_a_database_leaves_no_lock_and_keeps_the_remembered_one(tmp_path, kind):
    """A failed `run --db WRONG` used to leave WRONG.lock behind and make WRONG the database every later
    verb without --db read."""
    config = tmp_path / "etc"
    (config / "policies.d").mkdir(parents=True)
    if kind == "foreign":
        db = _foreign(tmp_path / "app.db")
    elif kind == "directory":
        db = tmp_path / "state"
        db.mkdir()
    else:  # migrated by a newer healerd: refused by the migration child, after the lock was taken
        db = tmp_path / "newer.db"
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('ffffffffffff')")
        conn.commit()
        conn.close()
    env, remembered = _remembered(tmp_path, "/srv/healerd/real.db\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = _run("--config", str(config), "--db", str(db), env=env)
    assert proc.returncode == EXIT_STARTUP_FAILURE, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no <db>.lock
    assert remembered.read_text() == "/srv/healerd/real.db\n"


def test_run_refuses_a_directory_as_database_before_it_creates_anything(tmp_path):
    config = tmp_path / "etc"
    (config / "policies.d").mkdir(parents=True)
    db = tmp_path / "state"
    db.mkdir()
    proc = _run("--config", str(config), "--db", str(db))
    assert proc.returncode == EXIT_STARTUP_FAILURE
    assert f"database path {db} is a directory" in proc.stderr


def test_run_refuses_another_applications_database_with_exit_3(tmp_path):
    config = tmp_path / "etc"
    (config / "policies.d").mkdir(parents=True)
    db = _foreign(tmp_path / "app.db")
    before = _digest(db)
    proc = _run("--config", str(config), "--db", str(db))
    assert proc.returncode == EXIT_STARTUP_FAILURE
    assert "another application's SQLite database" in proc.stderr
    assert _digest(db) == before


def test_run_validates_the_config_before_it_creates_the_database_or_its_lock(tmp_path):
    config = tmp_path / "etc"
    (config / "policies.d").mkdir(parents=True)
    (config / "policies.d" / "bad.toml").write_text(
        '[[component]]\nname = "x"\n[component.check]\nkind = "tcp"\nport = 1\ntimout = "1s"\n'
    )
    db = tmp_path / "state" / "healerd.db"
    proc = _run("--config", str(config), "--db", str(db))
    assert proc.returncode == EXIT_STARTUP_FAILURE
    assert "component[0].check.timout" in proc.stderr
    assert not db.parent.exists()  # neither the database, nor its directory, nor the lock


def test_a_database_this_user_cannot_read_says_try_sudo(tmp_path, template_db):
    """A non-root operator on the systemd install: /var/lib/healerd is 0700, and Path.exists() raises
    PermissionError there (it used to be a traceback)."""
    import os
    import shutil as sh

    setpriv = sh.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv(1) to run the CLI as another user")
    as_nobody = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run(
        [*as_nobody, sys.executable, "-c", "import daemon"],
        capture_output=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    if probe.returncode != 0:
        pytest.skip(f"this python cannot run as nobody here: {probe.stderr.decode()[-200:]}")
    private = tmp_path / "state"
    private.mkdir(mode=0o700)
    tmp_path.chmod(0o755)
    db = private / "healerd.db"
    sh.copyfile(template_db, db)
    proc = subprocess.run(
        [*as_nobody, sys.executable, "-m", "daemon", "status", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == EXIT_NOT_A_DATABASE, proc.stderr
    assert proc.stderr == f"healerd: {db} is not readable by this user (try sudo)\n"

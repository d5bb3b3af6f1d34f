"""`healerd checkpoint list|create|restore` through the real CLI group, on a real config directory and a
migrated database; restore is recorded in operator_commands, and works while a daemon's writer writes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import open_db, wait_until

from daemon.cli.main import cli
from daemon.engine import checkpoint_files as cf
from daemon.errors import EXIT_NOT_A_DATABASE
from daemon.store.writer import Writer

POLICY = """
[[component]]
name = "app"
[component.check]
kind = "tcp"
port = 1

[[component.recovery]]
strategy = "restore"
checkpoint = "app-config"
then = {{ run = [{python}, "services/mark.py"], timeout = "10s" }}

[[checkpoint]]
name = "app-config"
paths = ["services/app.conf"]
keep = 2
"""


@pytest.fixture
def config_dir(tmp_path) -> Path:
    root = tmp_path / "etc"
    for sub in ("policies.d", "services"):
        (root / sub).mkdir(parents=True)
    os.chmod(root, 0o755)
    (root / "healerd.toml").write_text('[daemon]\nlog_level = "info"\n')
    (root / "policies.d" / "app.toml").write_text(POLICY.format(python=json.dumps(sys.executable)))
    (root / "services" / "app.conf").write_text("port = 8080\n")
    (root / "services" / "mark.py").write_text("open('then-ran', 'w').write('yes')\n")
    for path in root.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return root


def healerd(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def last_error_line(result) -> str:
    """The CLI's one-line message (engine warnings, if any, come before it on stderr)."""
    return result.stderr.strip().splitlines()[-1]


def commands(db_path) -> list[tuple]:
    with open_db(db_path) as conn:
        return conn.execute(
            "SELECT command, target, status, outcome, applied_at IS NOT NULL FROM operator_commands"
        ).fetchall()


def test_create_then_list_shows_the_version(config_dir, db_path):
    created = healerd("checkpoint", "create", "app-config", "--config", str(config_dir), "--db", str(db_path))
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("checkpoint app-config #1: 1 file(s), 12 bytes in ")
    assert str(db_path.parent / "checkpoints" / "app-config" / "1") in created.stdout

    listed = healerd("checkpoint", "list", "--db", str(db_path))
    assert listed.exit_code == 0
    header, _rule, line = listed.stdout.splitlines()
    assert header.split() == ["id", "name", "taken_at", "files", "size", "status"]
    fields = line.split()
    assert fields[:2] == ["1", "app-config"] and fields[3:] == ["1", "12", "B", "verified"]
    assert fields[2].endswith("Z") and "T" in fields[2]

    as_json = json.loads(healerd("checkpoint", "list", "app-config", "--db", str(db_path), "--format", "json").stdout)
    assert as_json == [
        {"id": 1, "name": "app-config", "taken_at": fields[2], "files": 1, "size": 12, "status": "verified"}
    ]


def test_create_prunes_to_keep(config_dir, db_path):
    for _ in range(3):
        assert (
            healerd("checkpoint", "create", "app-config", "--config", str(config_dir), "--db", str(db_path)).exit_code
            == 0
        )
    statuses = [
        line.split()[-1] for line in healerd("checkpoint", "list", "--db", str(db_path)).stdout.splitlines()[2:]
    ]
    assert statuses == ["verified", "verified", "pruned"]


def test_restore_puts_the_file_back_and_is_recorded(config_dir, db_path):
    healerd("checkpoint", "create", "app-config", "--config", str(config_dir), "--db", str(db_path))
    conf = config_dir / "services" / "app.conf"
    conf.write_text("port = broken\n")

    result = healerd("checkpoint", "restore", "app-config", "--db", str(db_path))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "restored app-config #1: 1 file(s)"
    assert conf.read_text() == "port = 8080\n"
    assert commands(db_path) == [
        ("checkpoint_restore", "app-config", "applied", "restored app-config #1: 1 file(s)", 1)
    ]


def test_restore_then_runs_the_steps_action_in_the_config_directory(config_dir, db_path):
    healerd("checkpoint", "create", "app-config", "--config", str(config_dir), "--db", str(db_path))
    result = healerd("checkpoint", "restore", "app-config", "--then", "--config", str(config_dir), "--db", str(db_path))
    assert result.exit_code == 0, result.output
    assert "then run " in result.stdout and result.stdout.strip().endswith("exit 0")
    assert (config_dir / "then-ran").read_text() == "yes"


def test_restore_of_a_corrupted_version_is_refused_recorded_and_touches_nothing(config_dir, db_path):
    healerd("checkpoint", "create", "app-config", "--config", str(config_dir), "--db", str(db_path))
    conf = config_dir / "services" / "app.conf"
    stored = db_path.parent / "checkpoints" / "app-config" / "1" / cf.stored_name(str(conf))
    stored.write_text("port = 6666\n")
    conf.write_text("current\n")

    result = healerd("checkpoint", "restore", "app-config", "--db", str(db_path))

    assert result.exit_code == 1 and result.stdout == ""
    assert last_error_line(result).startswith("healerd: restore refused: checkpoint app-config #1 is corrupt")
    assert conf.read_text() == "current\n"
    ((command, _target, status, outcome, applied),) = commands(db_path)
    assert (command, status, applied) == ("checkpoint_restore", "failed", 1) and outcome.startswith("restore refused")
    assert healerd("checkpoint", "list", "--db", str(db_path)).stdout.splitlines()[2].split()[-1] == "corrupt"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "nope"], "healerd: no checkpoint named 'nope' in the config (declared: app-config)"),
        (["restore", "nope"], "healerd: no verified checkpoint nope"),
        (["list", "nope"], "healerd: no checkpoint named 'nope' has been taken"),
    ],
)
def test_unknown_names_are_errors(config_dir, db_path, args, message):
    result = (
        healerd("checkpoint", *args, "--config", str(config_dir), "--db", str(db_path))
        if args[0] == "create"
        else healerd("checkpoint", *args, "--db", str(db_path))
    )
    assert result.exit_code == 1 and last_error_line(result) == message


def test_a_missing_database_is_an_error_not_a_new_file(tmp_path):
    missing = tmp_path / "none.db"
    result = healerd("checkpoint", "list", "--db", str(missing))
    assert (
        result.exit_code == EXIT_NOT_A_DATABASE and "does not exist" in last_error_line(result) and not missing.exists()
    )


def test_create_and_restore_work_while_a_daemon_writer_is_writing(config_dir, db_path):
    """The daemon's writer and the CLI's short transactions share the database: neither fails."""
    stop, writes, failures = threading.Event(), [], []

    def daemon_side() -> None:
        async def main() -> None:
            writer = Writer(db_path)
            await writer.start()
            try:
                while not stop.is_set():
                    await writer.submit(
                        lambda c: c.execute(
                            "INSERT INTO config_errors (ts, path, message) VALUES (?, 'x', 'load')", (time.time(),)
                        )
                    )
                    writes.append(1)
            except Exception as exc:  # reported below
                failures.append(exc)
            finally:
                await writer.stop()

        asyncio.run(main())

    thread = threading.Thread(target=daemon_side, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(writes) >= 50, message="writer made no progress")
        created = healerd("checkpoint", "create", "app-config", "--config", str(config_dir), "--db", str(db_path))
        restored = healerd("checkpoint", "restore", "app-config", "--db", str(db_path))
        before = len(writes)
        wait_until(lambda: len(writes) >= before + 50, message="writer stalled after the CLI")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert created.exit_code == 0 and restored.exit_code == 0, created.output + restored.output
    assert failures == []

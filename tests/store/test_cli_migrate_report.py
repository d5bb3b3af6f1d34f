"""`healerd migrate` and `healerd report`, through the real CLI group (and once as a real process)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import open_db

from daemon.cli.main import cli
from daemon.store import migrate

VIEWS = [
    "active_circuit_breakers",
    "active_degradation",
    "chaos_experiment_results",
    "component_availability_24h",
    "component_availability_30d",
    "component_availability_7d",
    "current_system_status",
    "feature_flags",
    "flapping_components",
    "maintenance_windows",
    "recent_health_failures",
    "recovery_ladder_outcomes",
    "recovery_mttr",
    "recovery_success_rate",
    "shadow_decision_comparison",
]


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_migrate_creates_and_upgrades_then_reports_already_at_head(tmp_path):
    path = tmp_path / "state" / "healerd.db"
    first = run("migrate", "--db", str(path))
    assert first.exit_code == 0, first.output
    assert f"migrated from empty to {migrate.head()}" in first.stdout
    second = run("migrate", "--db", str(path))
    assert second.exit_code == 0 and "already at" in second.stdout


def test_migrate_uses_healerd_db_from_the_environment_when_no_flag_is_given(tmp_path):
    path = tmp_path / "from-env.db"
    result = run("migrate", env={"HEALERD_DB": str(path)})
    assert result.exit_code == 0, result.output
    assert migrate.status(path) == (migrate.head(), migrate.head())


def test_migrate_status_shows_current_and_head_and_creates_nothing(tmp_path, db_path):
    missing = tmp_path / "missing.db"
    result = run("migrate", "--db", str(missing), "--status")
    assert result.exit_code == 0
    assert "current:  (none)" in result.stdout and f"head:     {migrate.head()}" in result.stdout
    assert "not created" in result.stdout and not missing.exists()
    result = run("migrate", "--db", str(db_path), "--status")
    assert f"current:  {migrate.head()}" in result.stdout and "up to date" in result.stdout


def test_migrate_of_a_file_that_is_not_a_database_fails_with_one_line(tmp_path):
    path = tmp_path / "junk.db"
    path.write_text("not sqlite at all" * 100)
    result = run("migrate", "--db", str(path))
    assert result.exit_code == 1
    assert "not a healerd SQLite database" in result.stderr
    assert "Traceback" not in result.output


def seed_rows(db_path: Path) -> None:
    with open_db(db_path) as conn:
        conn.executemany(
            "INSERT INTO components (name, check_kind, every_s, weight, loaded_at) VALUES (?, 'tcp', 5, ?, 0)",
            [("app", 3.0), ("database-primary", 1.0)],
        )


def test_report_table_is_aligned_in_columns(db_path):
    seed_rows(db_path)
    result = run("report", "current_system_status", "--db", str(db_path))
    assert result.exit_code == 0, result.output
    header, rule, *rows = result.stdout.splitlines()
    assert header.split()[:2] == ["component", "status"]
    assert [r.split()[0] for r in rows] == ["app", "database-primary"]
    # Every column starts at the same offset on every line: the second column (status) for instance.
    status_at = header.index("status")
    assert all(line[status_at:].startswith("unknown") for line in rows)
    assert set(rule.replace(" ", "")) == {"-"}
    # Numbers are right-aligned: the weights end where the weight header ends.
    weight_end = header.index("weight") + len("weight")
    assert [line[:weight_end].rstrip()[-1] for line in rows] == ["3", "1"]


def test_report_json_is_a_list_of_objects(db_path):
    seed_rows(db_path)
    result = run("report", "current_system_status", "--db", str(db_path), "--format", "json")
    data = json.loads(result.stdout)
    assert [row["component"] for row in data] == ["app", "database-primary"]
    assert data[0]["weight"] == 3.0 and data[0]["last_check_at"] is None


def test_report_csv_has_a_header_and_one_line_per_row(db_path):
    seed_rows(db_path)
    result = run("report", "current_system_status", "--db", str(db_path), "--format", "csv", "--limit", "1")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:2] == ["component", "status"]
    assert rows[1][:2] == ["app", "unknown"] and len(rows) == 2


def test_report_of_an_empty_view_says_so(db_path):
    result = run("report", "recovery_mttr", "--db", str(db_path))
    assert result.exit_code == 0 and "(no rows)" in result.stdout


def test_report_list_names_every_view_with_its_summary(db_path):
    result = run("report", "--list", "--db", str(db_path))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == VIEWS
    assert all(len(line.split()) > 3 for line in lines)  # each has a description


def test_report_of_an_unknown_view_fails_and_lists_the_known_ones(db_path):
    result = run("report", "uptime", "--db", str(db_path))
    assert result.exit_code == 1
    assert "unknown view 'uptime'" in result.stderr and "recovery_mttr" in result.stderr


def test_report_on_a_missing_database_fails_clearly_and_creates_nothing(tmp_path):
    missing = tmp_path / "nope.db"
    result = run("report", "current_system_status", "--db", str(missing))
    assert result.exit_code == 4  # EXIT_NOT_A_DATABASE
    assert "does not exist" in result.stderr and "healerd migrate" in result.stderr
    assert not missing.exists()


def test_report_without_a_view_is_a_usage_error(db_path):
    result = run("report", "--db", str(db_path))
    assert result.exit_code == 2


def test_report_opens_the_database_read_only(db_path):
    """The report leaves the file's content untouched (it cannot write through mode=ro)."""
    seed_rows(db_path)
    before = db_path.read_bytes()
    for view in VIEWS:
        assert run("report", view, "--db", str(db_path)).exit_code == 0
    assert db_path.read_bytes() == before
    wal = db_path.with_name(db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # nothing was written ahead either


def test_installed_healerd_command_lists_views_in_a_real_process(db_path):
    healerd = Path(sys.executable).with_name("healerd")
    proc = subprocess.run(
        [str(healerd), "report", "--list", "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
        env={**os.environ, "HEALERD_DB": "/nonexistent/ignored.db"},
    )
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == VIEWS


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_report_formats_keep_multi_line_messages_intact_or_on_one_line(db_path, fmt):
    with open_db(db_path) as conn:
        conn.execute("INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES ('app', 'exec', 5, 0)")
        conn.execute(
            "INSERT INTO check_results (component_id, ts, status, message) VALUES (1, ?, 'unhealthy', ?)",
            (time.time(), "line one\nline two"),
        )
    result = run("report", "recent_health_failures", "--db", str(db_path), "--format", fmt)
    assert result.exit_code == 0
    if fmt == "table":
        assert len(result.stdout.splitlines()) == 3 and "line one line two" in result.stdout
    elif fmt == "json":
        assert json.loads(result.stdout)[0]["message"] == "line one\nline two"
    else:
        assert list(csv.reader(io.StringIO(result.stdout)))[1][5] == "line one\nline two"

"""Read verbs start fast: `healerd report` and `healerd status` import no SQLAlchemy, Alembic, APScheduler,
httpx or aiosqlite (issue 11: those cost ~400 ms before the query ran).

The real command (`python -m daemon ...`) runs in a subprocess that prints `sys.modules` at exit; the test
reads that list, so it fails whenever an import anywhere on the verb's path pulls one of them in (a
module-level import in a store module, a verb module imported for discovery...).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "alembic", "apscheduler", "httpx", "aiosqlite")


#: Runs the CLI exactly as `python -m daemon ARGS` would, then prints every imported module at exit.
_PROBE = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('MODULES ' + ' '.join(sorted(sys.modules)), file=sys.stderr))\n"
    "sys.argv = ['healerd'] + sys.argv[1:]\n"
    "runpy.run_module('daemon', run_name='__main__', alter_sys=True)\n"
)


def imported_modules(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALERD_")}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        start_new_session=True,
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    assert lines, proc.stderr[-2000:]
    return proc, set(lines[-1].split()[1:])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize("view", ["current_system_status", "component_availability_24h"])
def test_report_imports_no_orm_migrations_scheduler_or_http_client(db_path, view):
    proc, modules = imported_modules("report", view, "--db", str(db_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "component" in proc.stdout  # it did run the query
    assert "daemon.store.views" in modules  # and the parse saw the modules it imported
    assert heavy(modules) == []


def test_status_imports_no_orm_migrations_scheduler_or_http_client(db_path):
    proc, modules = imported_modules("status", "--db", str(db_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "daemon.cli.status" in modules
    assert heavy(modules) == []


@pytest.mark.parametrize(
    ("args", "unused"),
    [(("status",), {"json", "csv"}), (("report", "current_system_status"), {"json", "csv"})],
)
def test_text_output_imports_no_json_or_csv_encoder(db_path, args, unused):
    """The default (text) output of the read verbs needs neither; only --json / --format load them."""
    proc, modules = imported_modules(*args, "--db", str(db_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "component" in proc.stdout
    assert unused.isdisjoint(modules), sorted(unused & modules)


@pytest.mark.parametrize(
    ("args", "needed"),
    [
        (("status", "--json"), "json"),
        (("report", "current_system_status", "--format", "json"), "json"),
        (("report", "current_system_status", "--format", "csv"), "csv"),
    ],
)
def test_json_and_csv_output_still_load_their_encoder(db_path, args, needed):
    proc, modules = imported_modules(*args, "--db", str(db_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert needed in modules and proc.stdout.strip()


def test_migrate_still_loads_alembic_when_it_needs_it(tmp_path):
    """The lazy import is lazy, not gone: the verb that migrates imports Alembic and works."""
    proc, modules = imported_modules("migrate", "--db", str(tmp_path / "new.db"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "alembic" in modules

"""The built wheel carries migrations/ and schema/: installed in a fresh virtualenv, it migrates a DB."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from helpers import open_db

from daemon.store import migrate

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "HEALERD_DB")}
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, start_new_session=True
    )
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_installed_in_a_fresh_virtualenv_migrates_a_database(tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)], cwd=tmp_path, timeout=600)
    (wheel,) = dist.glob("healerd-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python, healerd = env_dir / "bin" / "python", env_dir / "bin" / "healerd"
    run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp_path, timeout=600)

    # Run from a directory far from the checkout, so only the installed copy can be found.
    where = run(
        [str(python), "-c", "from daemon import paths; print(paths.migrations_dir()); print(paths.schema_dir())"],
        cwd=tmp_path,
        timeout=60,
    ).stdout.split()
    site = env_dir / "lib"
    assert all(Path(p).is_relative_to(site) and "/daemon/_data/" in p for p in where), where

    db = tmp_path / "state" / "healerd.db"
    run([str(healerd), "migrate", "--db", str(db)], cwd=tmp_path, timeout=120)
    with open_db(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == migrate.head()
        views = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert views == {p.stem for p in (REPO / "schema" / "views").glob("*.sql")}
    assert triggers == {p.stem for p in (REPO / "schema" / "triggers").glob("*.sql")}
    listed = run([str(healerd), "report", "--list", "--db", str(db)], cwd=tmp_path, timeout=60).stdout
    assert [line.split()[0] for line in listed.splitlines()] == sorted(views)

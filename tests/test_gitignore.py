"""`.gitignore` covers everything the Quick start leaves in the checkout, so `git status` stays clean.

The paths are the Quick start daemon's (`healerd run --config examples --db example.db`): the database
and its WAL files, its lock, state.json next to it, checkpoints next to it, and the example services'
pids and logs under examples/run/ (no $RUNTIME_DIRECTORY in a terminal).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from daemon.config.models import Degradation
from daemon.engine.checkpoints import checkpoints_root
from daemon.engine.publish import state_file_path
from daemon.service.lock import lock_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_what_the_quick_start_leaves_in_the_checkout_is_ignored(tmp_path):
    repo = tmp_path / "clone"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    shutil.copyfile(ROOT / ".gitignore", repo / ".gitignore")
    db = repo / "example.db"
    left = [
        db,
        repo / "example.db-wal",
        repo / "example.db-shm",
        Path(lock_path(db)),
        state_file_path(Degradation(), env={}, db_path=db),
        checkpoints_root(db) / "1" / "services" / "app.conf",
        repo / "examples" / "run" / "app.pid",
        repo / "examples" / "run" / "app.log",
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert status.stdout.splitlines() == ["?? .gitignore"]

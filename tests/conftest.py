"""Fixtures shared by the whole suite.

The database fixtures follow the brief's rule "real SQLite files migrated by Alembic": the schema is
migrated once per session into a template file, and each test gets its own copy (a file copy is far
cheaper than running the migrations again).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# Make `from helpers import wait_until` work from any test directory.
sys.path.insert(0, str(Path(__file__).parent))

from daemon.store import migrate

# `healerd run` notes its database under $XDG_STATE_HOME for later commands without --db; the suite's
# hundreds of daemons must not write into the real home (nor steer a developer's own `healerd status`).
_STATE_HOME = Path(tempfile.mkdtemp(prefix="healerd-test-state-"))
os.environ["XDG_STATE_HOME"] = str(_STATE_HOME)


@pytest.fixture(scope="session", autouse=True)
def _private_state_home():
    yield _STATE_HOME
    shutil.rmtree(_STATE_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated to head once per session. Never write to it: copy it (`db_path`)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(path)
    # The engine has closed its last connection, which checkpoints the WAL into the main file, so the
    # file alone is the whole database; make sure no -wal/-shm was left behind to forget copying.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def db_path(template_db: Path, tmp_path: Path) -> Path:
    """A private copy of the migrated template database for one test."""
    path = tmp_path / "healerd.db"
    shutil.copyfile(template_db, path)
    return path

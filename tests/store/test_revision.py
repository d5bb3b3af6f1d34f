"""`at_head` answers "nothing to migrate" without Alembic, and never says yes when it should not."""

from __future__ import annotations

import sqlite3

from daemon.store import migrate
from daemon.store.revision import at_head, script_head


def test_the_head_read_from_the_scripts_is_alembics_head():
    assert script_head() == migrate.head()


def test_a_migrated_database_is_at_head(db_path):
    assert at_head(db_path)


def test_a_missing_empty_or_older_database_is_not_at_head(db_path, tmp_path):
    assert not at_head(tmp_path / "missing.db")
    sqlite3.connect(tmp_path / "empty.db").close()
    assert not at_head(tmp_path / "empty.db")
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    assert not at_head(tmp_path / "junk.db")
    migrate.downgrade(db_path, "0001")
    assert not at_head(db_path)


def test_a_merge_revision_or_a_second_head_is_left_to_alembic(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text("revision: str = 'a'\ndown_revision: str | None = None\n")
    (versions / "b.py").write_text("revision: str = 'b'\ndown_revision: str | None = 'a'\n")
    assert script_head(versions) == "b"
    (versions / "c.py").write_text("revision: str = 'c'\ndown_revision: str | None = 'a'\n")
    assert script_head(versions) is None  # two heads
    (versions / "d.py").write_text("revision = 'd'\ndown_revision = ('b', 'c')\n")
    assert script_head(versions) is None  # a merge: not parsed, not guessed


def test_current_reads_the_revision_without_alembic_and_none_when_it_cannot(db_path, tmp_path):
    from daemon.store.revision import current

    assert current(db_path) == migrate.head()
    assert current(tmp_path / "missing.db") is None
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    assert current(tmp_path / "junk.db") is None


def test_the_fleet_shipper_reads_the_local_revision_without_the_migration_runner():
    import subprocess
    import sys

    code = "import sys, daemon.service.fleet; print('daemon.store.migrate' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"

"""sqlite checks: a good database, one with garbage written over its pages, and not a database."""

from __future__ import annotations

import os
import sqlite3

import pytest

from daemon.engine.checks import run_check
from daemon.types import Status


def make_db(path, rows: int = 2000) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size = 1024")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("CREATE INDEX t_v ON t (v)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"value-{i:06d}" * 4,) for i in range(rows)])
    conn.commit()
    conn.close()


@pytest.fixture
def good_db(tmp_path):
    path = tmp_path / "good.db"
    make_db(path)
    return path


async def test_intact_database_is_healthy(good_db, component):
    result = await run_check(component("sqlite", path=str(good_db)))
    assert (result.status, result.error_class) == (Status.HEALTHY, None)
    assert "quick_check ok" in result.message


async def test_check_is_read_only_and_leaves_the_file_untouched(good_db, component):
    before = (good_db.read_bytes(), sorted(os.listdir(good_db.parent)))
    await run_check(component("sqlite", path=str(good_db)))
    assert (good_db.read_bytes(), sorted(os.listdir(good_db.parent))) == before


async def test_garbage_over_pages_is_corrupt(good_db, component):
    size = good_db.stat().st_size
    with open(good_db, "r+b") as f:
        for page in range(3, size // 1024, 3):  # every third page after the schema, header kept
            f.seek(page * 1024)
            f.write(b"\xde\xad\xbe\xef" * 256)
    result = await run_check(component("sqlite", path=str(good_db)))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "corrupt")


async def test_file_that_is_not_a_database_is_corrupt(tmp_path, component):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database at all" * 100)
    result = await run_check(component("sqlite", path=str(path)))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "corrupt")
    assert "not a database" in result.message


async def test_missing_database_is_missing_and_not_created(tmp_path, component):
    path = tmp_path / "absent.db"
    result = await run_check(component("sqlite", path=str(path)))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "missing")
    assert not path.exists()


async def test_odd_characters_in_the_path_do_not_become_uri_parameters(tmp_path, component):
    path = tmp_path / "a?mode=rwc#x.db"
    make_db(path, rows=10)
    result = await run_check(component("sqlite", path=str(path)))
    assert result.status is Status.HEALTHY

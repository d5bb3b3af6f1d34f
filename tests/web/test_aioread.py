"""HTTP reads go through aiosqlite read-only connections and are aborted at their deadline."""

from __future__ import annotations

import sqlite3
import time

import pytest

from daemon.errors import ReportError
from daemon.store.aioread import ReadTimeout, read
from daemon.store.sqlite import BUSY_TIMEOUT_MS


async def test_a_runaway_query_is_aborted_at_the_deadline(db_path):
    def endless(conn):
        return conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        ).fetchone()

    started = time.monotonic()
    with pytest.raises(ReadTimeout):
        await read(db_path, endless, timeout=0.3)
    assert time.monotonic() - started < 10  # aborted by SQLite's progress handler, not left running


async def test_the_connection_is_read_only(db_path):
    def write(conn):
        conn.execute("INSERT INTO feature_flag_state (name, enabled, updated_at) VALUES ('x', 1, 0)")

    with pytest.raises((ReportError, sqlite3.Error)):
        await read(db_path, write, timeout=5)


async def test_reads_return_the_functions_result(db_path):
    assert (
        await read(db_path, lambda conn: conn.execute("SELECT count(*) FROM components").fetchone()[0], timeout=5) == 0
    )


async def test_a_missing_database_is_a_report_error(tmp_path):
    with pytest.raises(ReportError):
        await read(tmp_path / "nope.db", lambda conn: None, timeout=1)


async def test_async_reads_run_read_only_with_the_pragmas(db_path):
    def pragma(name):
        return lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0]

    assert await read(db_path, pragma("foreign_keys"), timeout=10) == 1
    assert await read(db_path, pragma("busy_timeout"), timeout=10) == BUSY_TIMEOUT_MS
    assert await read(db_path, pragma("query_only"), timeout=10) == 1
    row = await read(
        db_path,
        lambda conn: conn.execute(
            "SELECT name FROM sqlite_master WHERE type = ? AND name = ?", ("view", "recovery_mttr")
        ).fetchone(),
        timeout=10,
    )
    assert tuple(row) == ("recovery_mttr",)

"""The `daemon_info` row: which config directory, host, pid and version the daemon on this database runs.

Written by the daemon at start and stop (one row, replaced), read by the CLI to find the config directory
without --config and by `healerd status`.
"""

from __future__ import annotations

import sqlite3
from typing import Any


def record_start(
    conn: sqlite3.Connection, *, config_dir: str, db_path: str, host: str, pid: int, version: str, now: float
) -> None:
    conn.execute(
        "INSERT INTO daemon_info (id, config_dir, db_path, host, pid, version, started_at, stopped_at) "
        "VALUES (1, ?, ?, ?, ?, ?, ?, NULL) "
        "ON CONFLICT (id) DO UPDATE SET config_dir = excluded.config_dir, db_path = excluded.db_path, "
        "host = excluded.host, pid = excluded.pid, version = excluded.version, "
        "started_at = excluded.started_at, stopped_at = NULL",
        (config_dir, db_path, host, pid, version, now),
    )


def record_stop(conn: sqlite3.Connection, *, pid: int, now: float) -> None:
    conn.execute("UPDATE daemon_info SET stopped_at = ? WHERE id = 1 AND pid = ?", (now, pid))


def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The row, or None when no daemon has run on this database (or it predates the table)."""
    try:
        cursor = conn.execute("SELECT * FROM daemon_info WHERE id = 1")
    except sqlite3.OperationalError:
        return None
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row))

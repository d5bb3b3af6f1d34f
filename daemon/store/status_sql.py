"""What `healerd status` reads: the public views plus each component's latest recovery and the flags.

Read from the database alone, so status works the same whether the daemon runs or not (and shows, when
it does not, the state as last recorded). Built on the views rather than the tables where a view
exists, so status and `healerd report` can never disagree.
"""

from __future__ import annotations

import sqlite3
from typing import Any


def _rows(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _latest(conn: sqlite3.Connection, table: str, order: str, columns: str) -> dict[str, dict[str, Any]]:
    """component name → `columns` of its newest row in `table` (by `order`, then id)."""
    rows = _rows(
        conn,
        f"""
        SELECT c.name AS component, {columns}
          FROM components AS c
          JOIN {table} AS r
            ON r.id = (SELECT r2.id FROM {table} AS r2
                        WHERE r2.component_id = c.id
                        ORDER BY r2.{order} DESC, r2.id DESC LIMIT 1)
         WHERE c.removed_at IS NULL
        """,
    )
    return {r.pop("component"): r for r in rows}


def components(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """current_system_status, each row with its component's newest recovery event (or None) and its
    latest result's perfdata (not in the view, a public interface; read beside it)."""
    rows = _rows(conn, "SELECT * FROM current_system_status ORDER BY component")
    recovery = _latest(
        conn,
        "recovery_events",
        "started_at",
        """r.strategy, r.step, r.attempt, r.status,
           strftime('%Y-%m-%dT%H:%M:%fZ', r.started_at, 'unixepoch') AS started_at,
           strftime('%Y-%m-%dT%H:%M:%fZ', r.finished_at, 'unixepoch') AS finished_at,
           r.reason, r.dry_run""",
    )
    result = _latest(conn, "check_results", "ts", "r.perfdata")
    for row in rows:
        row["last_recovery"] = recovery.get(row["component"])
        row["perfdata"] = result.get(row["component"], {}).get("perfdata")
    return rows


def degradation(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The active_degradation row, or None before the daemon first scored anything."""
    rows = _rows(conn, "SELECT * FROM active_degradation")
    return rows[0] if rows else None


def flags(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return _rows(
        conn,
        "SELECT name, enabled, reason, strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, 'unixepoch') AS updated_at "
        "FROM feature_flag_state ORDER BY name",
    )


def rejected_config(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Config problems the running daemon is living with (a rejected file keeps its last good version)."""
    return _rows(
        conn,
        "SELECT path, key, line, message, strftime('%Y-%m-%dT%H:%M:%fZ', ts, 'unixepoch') AS since "
        "FROM config_errors WHERE resolved_at IS NULL ORDER BY path, line, id",
    )


def rows(conn: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
    """Rows of a view as dicts (issue 10: flapping_components, maintenance_windows)."""
    return _rows(conn, sql)

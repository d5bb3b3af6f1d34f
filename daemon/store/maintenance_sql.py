"""The SQL of maintenance windows and silences (`maintenance_periods`), shared by the daemon and the CLI.

Every function runs inside the caller's transaction (the writer's, or the CLI's own when no daemon
runs); none commits.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from daemon.errors import NotFoundError
from daemon.store.sqlite import inserted_id

ALL = "*"


def _component_id(conn: sqlite3.Connection, target: str) -> int | None:
    if target == ALL:
        return None
    row = conn.execute("SELECT id FROM components WHERE name = ? AND removed_at IS NULL", (target,)).fetchone()
    if row is None:
        raise NotFoundError(f"no component named {target!r} in the database")
    return int(row[0])


def add_silence(conn: sqlite3.Connection, target: str, seconds: float, reason: str, now: float) -> int:
    component_id = _component_id(conn, target)
    cur = conn.execute(
        "INSERT INTO maintenance_periods (component_id, kind, name, reason, starts_at, ends_at, created_at) "
        "VALUES (?, 'silence', NULL, ?, ?, ?, ?)",
        (component_id, reason, now, now + seconds, now),
    )
    return inserted_id(cur)


def clear_silences(conn: sqlite3.Connection, target: str, now: float) -> int:
    """End the silences in force on `target` now (`*`: every silence, whoever it covers)."""
    sql = "UPDATE maintenance_periods SET cleared_at = ? WHERE kind = 'silence' AND cleared_at IS NULL AND ends_at > ?"
    params: list[Any] = [now, now]
    if target != ALL:
        sql += " AND component_id = ?"
        params.append(_component_id(conn, target))
    return conn.execute(sql, params).rowcount


def active_silences(conn: sqlite3.Connection, now: float) -> list[dict[str, Any]]:
    """Silences not yet over (also those starting later), with the component's name (None = all)."""
    rows = conn.execute(
        "SELECT m.id, c.name, m.reason, m.starts_at, m.ends_at FROM maintenance_periods m "
        "LEFT JOIN components c ON c.id = m.component_id "
        "WHERE m.kind = 'silence' AND m.cleared_at IS NULL AND m.ends_at > ? ORDER BY m.id",
        (now,),
    ).fetchall()
    return [dict(zip(("id", "component", "reason", "starts_at", "ends_at"), r)) for r in rows]


def record_window(
    conn: sqlite3.Connection,
    name: str | None,
    component_id: int | None,
    starts_at: float,
    ends_at: float,
    reason: str,
    now: float,
) -> bool:
    """Record one occurrence of a window once (a restarted daemon finds it already there)."""
    found = conn.execute(
        "SELECT 1 FROM maintenance_periods WHERE kind = 'window' AND name = ? AND starts_at = ? AND component_id IS ?",
        (name, starts_at, component_id),
    ).fetchone()
    if found:
        return False
    conn.execute(
        "INSERT INTO maintenance_periods (component_id, kind, name, reason, starts_at, ends_at, created_at) "
        "VALUES (?, 'window', ?, ?, ?, ?, ?)",
        (component_id, name, reason, starts_at, ends_at, now),
    )
    return True


def latest_hold(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    """The newest decision about `name` made outside any incident (e.g. held by maintenance), if it is
    newer than the component's last incident: what `explain` shows when no incident explains it."""
    row = conn.execute(
        "SELECT d.ts, d.kind, d.reason, d.until FROM decisions d JOIN components c ON c.id = d.component_id "
        "WHERE c.name = ? AND d.incident_id IS NULL "
        "AND d.ts >= coalesce((SELECT max(i.opened_at) FROM incidents i WHERE i.component_id = c.id), 0) "
        "ORDER BY d.id DESC LIMIT 1",
        (name,),
    ).fetchone()
    return None if row is None else dict(zip(("ts", "kind", "reason", "until"), row))

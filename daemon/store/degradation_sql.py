"""The SQL behind graceful degradation: the single state row, its history, score snapshots, flags.

Like store/state.py: plain `sqlite3.Connection`s, transactions left to the caller (the writer's batch in
the daemon, the CLI's own `BEGIN IMMEDIATE` when no daemon runs), plain dicts in and out so this layer
never imports the engine. The daemon and `healerd degrade` (offline) write through the same functions,
so a row looks the same whoever wrote it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from daemon.store.sqlite import inserted_id

STATE_COLUMNS = (
    "level",
    "score",
    "unknown_count",
    "since",
    "pending_level",
    "pending_since",
    "override_level",
    "override_until",
    "override_reason",
    "updated_at",
    "tracker",
)


def load_state(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The single row (id = 1) with `tracker` decoded (None if absent or not a JSON object)."""
    row = conn.execute(f"SELECT {', '.join(STATE_COLUMNS)} FROM degradation_state WHERE id = 1").fetchone()
    if row is None:
        return None
    values = dict(zip(STATE_COLUMNS, row))
    import json  # here, not at the top: `healerd status` imports this module for recent_snapshots alone

    try:
        tracker = json.loads(values["tracker"]) if values["tracker"] else None
    except ValueError:  # the CHECK forbids it, but a hand-edited file must not stop the daemon
        tracker = None
    values["tracker"] = tracker if isinstance(tracker, dict) else None
    return values


def save_state(conn: sqlite3.Connection, row: Mapping[str, Any]) -> None:
    values = {c: row.get(c) for c in STATE_COLUMNS}
    if values["tracker"] is not None and not isinstance(values["tracker"], str):
        import json

        values["tracker"] = json.dumps(values["tracker"], sort_keys=True)
    cols = ", ".join(STATE_COLUMNS)
    marks = ", ".join(f":{c}" for c in STATE_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS)
    conn.execute(
        f"INSERT INTO degradation_state (id, {cols}) VALUES (1, {marks}) ON CONFLICT (id) DO UPDATE SET {updates}",
        values,
    )


def insert_history(
    conn: sqlite3.Connection, *, ts: float, from_level: str | None, to_level: str, score: float | None, reason: str
) -> int:
    cur = conn.execute(
        "INSERT INTO degradation_history (ts, from_level, to_level, score, reason) VALUES (?, ?, ?, ?, ?)",
        (ts, from_level, to_level, score, reason),
    )
    return inserted_id(cur)


def insert_snapshot(
    conn: sqlite3.Connection, *, ts: float, score: float | None, level: str, unknown_count: int, components: int
) -> int:
    cur = conn.execute(
        "INSERT INTO health_snapshots (ts, score, level, unknown_count, components) VALUES (?, ?, ?, ?, ?)",
        (ts, score, level, unknown_count, components),
    )
    return inserted_id(cur)


def recent_snapshots(conn: sqlite3.Connection, limit: int) -> list[tuple[float, float | None]]:
    """The newest `limit` (ts, score) pairs, oldest first: what the trend is fitted on."""
    rows = conn.execute("SELECT ts, score FROM health_snapshots ORDER BY ts DESC, id DESC LIMIT ?", (limit,)).fetchall()
    return [(float(ts), score) for ts, score in reversed(rows)]


def latest_results(conn: sqlite3.Connection) -> dict[str, tuple[str, float]]:
    """name → (status, ts) of each current component's newest check result."""
    rows = conn.execute(
        """
        SELECT c.name, r.status, r.ts
          FROM components AS c
          JOIN check_results AS r
            ON r.id = (SELECT r2.id FROM check_results AS r2 WHERE r2.component_id = c.id
                        ORDER BY r2.ts DESC, r2.id DESC LIMIT 1)
         WHERE c.removed_at IS NULL
        """
    ).fetchall()
    return {name: (status, float(ts)) for name, status, ts in rows}


def load_flags(conn: sqlite3.Connection) -> dict[str, tuple[bool, str | None, float]]:
    """name → (enabled, reason, updated_at)."""
    rows = conn.execute("SELECT name, enabled, reason, updated_at FROM feature_flag_state ORDER BY name").fetchall()
    return {name: (bool(enabled), reason, updated_at) for name, enabled, reason, updated_at in rows}


def save_flags(
    conn: sqlite3.Connection, changed: Mapping[str, tuple[bool, str | None]], keep: Iterable[str], now: float
) -> None:
    """Upsert the flags whose state changed; delete the rows of flags no longer configured.

    A removed flag must not linger as "off" in `active_degradation.disabled_flags`, so its row goes
    (its past is in the logs and in degradation_history's levels, not in this current-state table).
    """
    for name, (enabled, reason) in changed.items():
        conn.execute(
            "INSERT INTO feature_flag_state (name, enabled, reason, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, reason = excluded.reason, "
            "updated_at = excluded.updated_at",
            (name, 1 if enabled else 0, reason, now),
        )
    keep = list(keep)
    placeholders = ",".join("?" * len(keep)) or "''"
    conn.execute(f"DELETE FROM feature_flag_state WHERE name NOT IN ({placeholders})", keep)

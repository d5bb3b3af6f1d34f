"""The SQL behind escalations: a row per message to a channel, written `pending` before it is sent.

Intent before act: the row exists before the first delivery attempt, so a daemon killed mid-send leaves
a `pending` row, and the next attempt finds it and sends again (at-least-once: a receiver may see a
message twice after a crash, never zero times without a record saying so). `initial` and `resolved`
are once per incident and channel (a partial unique index): asking again returns the existing row, and
a `delivered` one is not sent again. Reminders are a new row each time.

Functions take a plain `sqlite3.Connection` and leave the transaction to the caller.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from daemon.store.sqlite import inserted_id

COLUMNS = (
    "id",
    "incident_id",
    "component_id",
    "channel",
    "kind",
    "created_at",
    "status",
    "attempts",
    "error",
    "next_attempt_at",
    "delivered_at",
)
ONCE_PER_INCIDENT = ("initial", "resolved")


def _row(values: Any) -> dict[str, Any]:
    return dict(zip(COLUMNS, values))


def open_escalation(conn: sqlite3.Connection, incident_id: int, channel: str, kind: str, now: float) -> dict[str, Any]:
    """The row for this message: the existing one for a once-per-incident kind, else a new `pending` one.

    The component is the incident's; raises LookupError for an incident that does not exist.
    """
    if kind in ONCE_PER_INCIDENT:
        found = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM escalations WHERE incident_id = ? AND channel = ? AND kind = ?",
            (incident_id, channel, kind),
        ).fetchone()
        if found is not None:
            return _row(found)
    incident = conn.execute("SELECT component_id FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    if incident is None:
        raise LookupError(f"no incident #{incident_id}")
    cur = conn.execute(
        "INSERT INTO escalations (incident_id, component_id, channel, kind, created_at, status, attempts) "
        "VALUES (?, ?, ?, ?, ?, 'pending', 0)",
        (incident_id, incident[0], channel, kind, now),
    )
    return get(conn, inserted_id(cur))  # type: ignore[return-value]


def finish_escalation(
    conn: sqlite3.Connection, escalation_id: int, *, delivered: bool, attempts: int, error: str | None, now: float
) -> None:
    """Record one delivery run's outcome; `attempts` adds to those of earlier runs (after a restart)."""
    conn.execute(
        "UPDATE escalations SET status = ?, attempts = attempts + ?, error = ?, "
        "delivered_at = CASE WHEN ? THEN ? ELSE delivered_at END WHERE id = ?",
        ("delivered" if delivered else "failed", attempts, error, delivered, now, escalation_id),
    )


def get(conn: sqlite3.Connection, escalation_id: int) -> dict[str, Any] | None:
    found = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM escalations WHERE id = ?", (escalation_id,)).fetchone()
    return _row(found) if found else None


def for_incident(conn: sqlite3.Connection, incident_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM escalations WHERE incident_id = ? ORDER BY created_at, id", (incident_id,)
    ).fetchall()
    return [_row(r) for r in rows]


def pending(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Rows left `pending` by a daemon that died while sending: to be sent again after a restart."""
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM escalations WHERE status = 'pending' ORDER BY id").fetchall()
    return [_row(r) for r in rows]

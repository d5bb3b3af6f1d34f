"""The SQL behind the self-healer: incidents, decisions, recovery events, ladder and fallback state.

Every function takes a plain `sqlite3.Connection` and leaves the transaction to the caller: the healer
calls several of them inside one `Writer.submit(fn)` so a row and the ladder state that accounts for it
commit together (intent before act), and the CLI calls them inside one offline transaction. Values are
plain dicts and primitives; the ladder itself travels as its JSON text (this layer does not import the
engine).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from daemon.store.sqlite import inserted_id

EVENT_COLUMNS = (
    "id",
    "incident_id",
    "component_id",
    "strategy",
    "step",
    "attempt",
    "reason",
    "status",
    "started_at",
    "finished_at",
    "verified_at",
    "action",
    "exit_code",
    "output",
    "candidate",
    "checkpoint_id",
    "dry_run",
)
INCIDENT_COLUMNS = ("id", "component_id", "opened_at", "closed_at", "status", "trigger", "waiting_on", "acked_at")
#: ladder_state columns that mirror parts of the JSON, for people reading the table in the shell.
MIRROR_COLUMNS = ("incident_id", "step", "next_attempt_at", "backoff_prev_s", "cooldown_until", "healthy_since")


# --- ladder state ----------------------------------------------------------------------------------------


def load_ladders(conn: sqlite3.Connection) -> dict[str, str | None]:
    """Component name → its stored ladder JSON (None for a row written before the JSON column existed)."""
    rows = conn.execute(
        "SELECT c.name, l.ladder FROM ladder_state l JOIN components c ON c.id = l.component_id"
    ).fetchall()
    return dict(rows)


def load_ladder(conn: sqlite3.Connection, component_id: int) -> str | None:
    row = conn.execute("SELECT ladder FROM ladder_state WHERE component_id = ?", (component_id,)).fetchone()
    return row[0] if row else None


def save_ladder(
    conn: sqlite3.Connection, component_id: int, ladder_json: str, mirror: Mapping[str, Any], now: float
) -> None:
    values = {c: mirror.get(c) for c in MIRROR_COLUMNS}
    values.update(component_id=component_id, ladder=ladder_json, updated_at=now)
    cols = list(values)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "component_id")
    conn.execute(
        f"INSERT INTO ladder_state ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) "
        f"ON CONFLICT (component_id) DO UPDATE SET {updates}",
        values,
    )


# --- incidents -------------------------------------------------------------------------------------------


def insert_incident(
    conn: sqlite3.Connection, component_id: int, opened_at: float, trigger: str, incident_id: int | None = None
) -> int:
    """`incident_id`: the daemon allocates ids itself (store/intent_journal.py); None lets SQLite pick."""
    cur = conn.execute(
        "INSERT INTO incidents (id, component_id, opened_at, status, trigger) VALUES (?, ?, ?, 'open', ?)",
        (incident_id, component_id, opened_at, trigger),
    )
    return inserted_id(cur)


def close_incident(conn: sqlite3.Connection, incident_id: int, closed_at: float) -> None:
    conn.execute(
        "UPDATE incidents SET status = 'resolved', closed_at = ? WHERE id = ? AND status = 'open'",
        (closed_at, incident_id),
    )


def set_waiting_on(conn: sqlite3.Connection, incident_id: int, name: str | None) -> None:
    conn.execute("UPDATE incidents SET waiting_on = ? WHERE id = ?", (name, incident_id))


def ack_incident(conn: sqlite3.Connection, incident_id: int, now: float) -> None:
    conn.execute("UPDATE incidents SET acked_at = ? WHERE id = ? AND acked_at IS NULL", (now, incident_id))


def open_incidents(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Component name → its open incident row."""
    rows = conn.execute(
        f"SELECT c.name, {', '.join('i.' + c for c in INCIDENT_COLUMNS)} FROM incidents i "
        "JOIN components c ON c.id = i.component_id WHERE i.status = 'open'"
    ).fetchall()
    return {r[0]: dict(zip(INCIDENT_COLUMNS, r[1:])) for r in rows}


def incident_for(conn: sqlite3.Connection, name: str, incident_id: int | None = None) -> dict[str, Any] | None:
    """The component's open incident, else its newest one; or the one asked for (if it is the component's)."""
    where, params = ("AND i.id = ?", (name, incident_id)) if incident_id is not None else ("", (name,))
    row = conn.execute(
        f"SELECT {', '.join('i.' + c for c in INCIDENT_COLUMNS)} FROM incidents i "
        f"JOIN components c ON c.id = i.component_id WHERE c.name = ? {where} "
        "ORDER BY (i.status = 'open') DESC, i.opened_at DESC, i.id DESC LIMIT 1",
        params,
    ).fetchone()
    return dict(zip(INCIDENT_COLUMNS, row)) if row else None


# --- decisions -------------------------------------------------------------------------------------------


def insert_decision(
    conn: sqlite3.Connection,
    *,
    component_id: int,
    incident_id: int | None,
    ts: float,
    kind: str,
    step: int | None,
    strategy: str | None,
    reason: str,
    until: float | None,
    id: int | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO decisions (id, incident_id, component_id, ts, kind, step, strategy, reason, until) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (id, incident_id, component_id, ts, kind, step, strategy, reason, until),
    )
    return inserted_id(cur)


# --- recovery events -------------------------------------------------------------------------------------


def insert_started(conn: sqlite3.Connection, **values: Any) -> int:
    """The intent row, committed before the action runs; `values` are recovery_events columns."""
    values = {k: v for k, v in values.items() if k in EVENT_COLUMNS}  # `id`: allocated by the daemon, or left out
    values["status"] = "started"
    cols = list(values)
    cur = conn.execute(
        f"INSERT INTO recovery_events ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})", values
    )
    return inserted_id(cur)


def finish_event(
    conn: sqlite3.Connection,
    event_id: int,
    *,
    status: str,
    finished_at: float,
    verified_at: float | None = None,
    exit_code: int | None = None,
    output: str | None = None,
    candidate: str | None = None,
) -> bool:
    """A `started` row gets its outcome once (a trigger refuses changes to a final row)."""
    cur = conn.execute(
        "UPDATE recovery_events SET status = ?, finished_at = ?, verified_at = ?, exit_code = ?, output = ?, "
        "candidate = coalesce(?, candidate) WHERE id = ? AND status = 'started'",
        (status, finished_at, verified_at, exit_code, output, candidate, event_id),
    )
    return cur.rowcount == 1


def last_failed_event(conn: sqlite3.Connection, incident_id: int) -> dict[str, Any] | None:
    """The incident's most recent failed recovery step (what an escalation should quote), or None."""
    cursor = conn.execute(
        "SELECT strategy, step, attempt, action, exit_code, output FROM recovery_events "
        "WHERE incident_id = ? AND status = 'failed' ORDER BY id DESC LIMIT 1",
        (incident_id,),
    )
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row))


def started_events(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Events still `started`: after a daemon start, the ones its predecessor did not live to finish."""
    rows = conn.execute(
        f"SELECT c.name, {', '.join('e.' + c for c in EVENT_COLUMNS)} FROM recovery_events e "
        "JOIN components c ON c.id = e.component_id WHERE e.status = 'started' ORDER BY e.id"
    ).fetchall()
    return [{"component": r[0], **dict(zip(EVENT_COLUMNS, r[1:]))} for r in rows]


# --- fallback state --------------------------------------------------------------------------------------


def set_fallback(
    conn: sqlite3.Connection,
    component_id: int,
    candidate: str,
    activated_at: float,
    incident_id: int | None,
    now: float,
) -> None:
    conn.execute(
        "INSERT INTO fallback_state (component_id, active_candidate, activated_at, incident_id, "
        "primary_healthy_since, updated_at) VALUES (?, ?, ?, ?, NULL, ?) "
        "ON CONFLICT (component_id) DO UPDATE SET active_candidate = excluded.active_candidate, "
        "activated_at = excluded.activated_at, incident_id = excluded.incident_id, "
        "primary_healthy_since = NULL, updated_at = excluded.updated_at",
        (component_id, candidate, activated_at, incident_id, now),
    )


def clear_fallback(conn: sqlite3.Connection, component_id: int, now: float) -> None:
    """After a failback: the row stays (it says when the last switch happened), with no active candidate."""
    conn.execute(
        "UPDATE fallback_state SET active_candidate = NULL, primary_healthy_since = NULL, updated_at = ? "
        "WHERE component_id = ?",
        (now, component_id),
    )


def set_primary_healthy_since(conn: sqlite3.Connection, component_id: int, since: float | None, now: float) -> None:
    conn.execute(
        "UPDATE fallback_state SET primary_healthy_since = ?, updated_at = ? "
        "WHERE component_id = ? AND active_candidate IS NOT NULL",
        (since, now, component_id),
    )


# --- inputs of decide() ----------------------------------------------------------------------------------


def candidate_rollups(conn: sqlite3.Connection, since_hour: int) -> dict[str, tuple[int, int, float]]:
    """Component name → (healthy, total, latency_sum_ms) over the hourly rollups since `since_hour`."""
    rows = conn.execute(
        "SELECT c.name, sum(r.healthy), sum(r.total), sum(r.latency_sum_ms) FROM result_rollups_hourly r "
        "JOIN components c ON c.id = r.component_id WHERE r.hour >= ? GROUP BY c.name",
        (since_hour,),
    ).fetchall()
    return {name: (int(h or 0), int(t or 0), float(lat or 0.0)) for name, h, t, lat in rows}

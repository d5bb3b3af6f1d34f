"""Everything `healerd explain NAME` shows about one incident, read on a read-only connection.

The window starts at the last passing check before the incident opened (so the first failure is in it)
and ends when the last row attached to the incident was written (a failback or a `resolved` message can
come after the close), or now while it is open. Check results are condensed into runs of the same
status and error class: an incident of an hour at one check a second would otherwise print 3,600 lines.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from daemon.store.healer_sql import EVENT_COLUMNS, incident_for

#: without a passing check before the incident, the window starts this long before it opened.
LOOKBACK_S = 300.0
MAX_RUNS = 200


def _rows(conn: sqlite3.Connection, sql: str, params: tuple) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def explain(conn: sqlite3.Connection, name: str, incident_id: int | None, now: float) -> dict[str, Any] | None:
    """The incident (open, else the newest, or the one asked for) and its timeline; None if there is none."""
    incident = incident_for(conn, name, incident_id)
    if incident is None:
        return None
    iid, cid = incident["id"], incident["component_id"]
    events = _rows(
        conn, f"SELECT {', '.join(EVENT_COLUMNS)} FROM recovery_events WHERE incident_id = ? ORDER BY id", (iid,)
    )
    escalations = _rows(
        conn,
        "SELECT id, channel, kind, created_at, status, attempts, error, delivered_at FROM escalations "
        "WHERE incident_id = ? ORDER BY created_at, id",
        (iid,),
    )
    before = conn.execute(
        "SELECT max(ts) FROM check_results WHERE component_id = ? AND ts <= ? AND status = 'healthy'",
        (cid, incident["opened_at"]),
    ).fetchone()[0]
    start = before if before is not None else incident["opened_at"] - LOOKBACK_S
    attached = [e["finished_at"] or e["started_at"] for e in events] + [
        x["delivered_at"] or x["created_at"] for x in escalations
    ]
    end = max([incident["closed_at"] or now, *attached])
    decisions = _rows(
        conn,
        "SELECT ts, kind, step, strategy, reason, until, incident_id FROM decisions WHERE component_id = ? "
        "AND (incident_id = ? OR (incident_id IS NULL AND ts >= ? AND ts <= ?)) ORDER BY ts, id",
        (cid, iid, start, end),
    )
    transitions = _rows(
        conn,
        "SELECT ts, from_state, to_state, reason, open_until FROM breaker_transitions "
        "WHERE component_id = ? AND ts >= ? AND ts <= ? ORDER BY ts, id",
        (cid, start, end),
    )
    return {
        "component": name,
        "incident": incident,
        "window": {"start": start, "end": end},
        "checks": check_runs(conn, cid, start, end),
        "transitions": transitions,
        "decisions": decisions,
        "events": events,
        "escalations": escalations,
    }


def check_runs(conn: sqlite3.Connection, component_id: int, start: float, end: float) -> dict[str, Any]:
    """Counts by status, the first failure, and runs of equal (status, error class), oldest first."""
    counts = dict(
        conn.execute(
            "SELECT status, count(*) FROM check_results WHERE component_id = ? AND ts >= ? AND ts <= ? GROUP BY status",
            (component_id, start, end),
        ).fetchall()
    )
    first = _rows(
        conn,
        "SELECT ts, status, error_class, message FROM check_results WHERE component_id = ? AND ts >= ? "
        "AND ts <= ? AND status IN ('unhealthy', 'unknown') ORDER BY ts, id LIMIT 1",
        (component_id, start, end),
    )
    runs: list[dict[str, Any]] = []
    cur = conn.execute(
        "SELECT ts, status, error_class, message, injected FROM check_results WHERE component_id = ? "
        "AND ts >= ? AND ts <= ? ORDER BY ts, id",
        (component_id, start, end),
    )
    truncated = False
    for ts, status, error_class, message, injected in cur:
        last = runs[-1] if runs else None
        if last is not None and (last["status"], last["error_class"]) == (status, error_class):
            last["count"] += 1
            last["last_ts"] = ts
            last["injected"] += injected
            continue
        if len(runs) >= MAX_RUNS:
            truncated = True
            break
        runs.append(
            {
                "first_ts": ts,
                "last_ts": ts,
                "status": status,
                "error_class": error_class,
                "message": message,
                "count": 1,
                "injected": injected,
            }
        )
    return {"counts": counts, "first_failure": first[0] if first else None, "runs": runs, "truncated": truncated}

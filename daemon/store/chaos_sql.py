"""The SQL behind chaos experiments: experiments as loaded, runs, and each run's journal of events.

Plain `sqlite3` functions; writes run inside the single writer's transaction (`Writer.submit(fn)`),
reads on read-only connections. A run row is inserted (verdict `running`) before anything is injected,
and an activity's intent ("started" event) before it acts, so a daemon killed mid-run leaves enough
behind for the next start to mark the run interrupted and undo what it may have done.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from daemon.store.sqlite import inserted_id

RUN_COLUMNS = (
    "id",
    "experiment_id",
    "started_at",
    "finished_at",
    "verdict",
    "reason",
    "trigger",
    "dry_run",
    "injected_at",
    "detected_at",
    "recovered_at",
    "reverted_at",
    "min_score",
    "max_level",
    "recommendations",
)
#: Columns `update_run` may set (not the id or the experiment).
UPDATABLE = frozenset(RUN_COLUMNS) - {"id", "experiment_id", "started_at", "trigger"}


def sync_experiments(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]], now: float) -> dict[str, int]:
    """Upsert the loaded experiments; ones no longer configured get `removed_at` (their runs stay).

    The names go in as one JSON array (`json_each`), so any number of experiments fits in one statement
    whatever SQLite's limit on bound variables is.
    """
    rows = [{**row, "now": now} for row in rows]
    conn.executemany(
        """
        INSERT INTO chaos_experiments (name, description, target, spec, source_file, loaded_at, removed_at)
        VALUES (:name, :description, :target, :spec, :source_file, :now, NULL)
        ON CONFLICT (name) DO UPDATE SET
            description = excluded.description, target = excluded.target, spec = excluded.spec,
            source_file = excluded.source_file, removed_at = NULL,
            loaded_at = CASE WHEN chaos_experiments.spec = excluded.spec AND chaos_experiments.removed_at IS NULL
                             THEN chaos_experiments.loaded_at ELSE excluded.loaded_at END
        """,
        rows,
    )
    conn.execute(
        "UPDATE chaos_experiments SET removed_at = ? "
        "WHERE removed_at IS NULL AND name NOT IN (SELECT value FROM json_each(?))",
        (now, json.dumps([row["name"] for row in rows])),
    )
    return {name: eid for eid, name in conn.execute("SELECT id, name FROM chaos_experiments WHERE removed_at IS NULL")}


def insert_run(conn: sqlite3.Connection, experiment_id: int, *, started_at: float, trigger: str, dry_run: bool) -> int:
    cur = conn.execute(
        "INSERT INTO chaos_runs (experiment_id, started_at, verdict, trigger, dry_run) VALUES (?, ?, 'running', ?, ?)",
        (experiment_id, started_at, trigger, int(dry_run)),
    )
    return inserted_id(cur)


def update_run(conn: sqlite3.Connection, run_id: int, **fields: Any) -> None:
    bad = set(fields) - UPDATABLE
    if bad:
        raise ValueError(f"not updatable: {sorted(bad)}")
    if "recommendations" in fields:
        fields["recommendations"] = json.dumps(list(fields["recommendations"] or []))
    if not fields:
        return
    sets = ", ".join(f"{k} = :{k}" for k in fields)
    conn.execute(f"UPDATE chaos_runs SET {sets} WHERE id = :run_id", {**fields, "run_id": run_id})


def add_event(
    conn: sqlite3.Connection,
    run_id: int,
    *,
    ts: float,
    step: str,
    status: str,
    message: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO chaos_events (run_id, ts, step, status, message, data) VALUES (?, ?, ?, ?, ?, ?)",
        (run_id, ts, step, status, message, None if data is None else json.dumps(dict(data), default=str)),
    )
    return inserted_id(cur)


def _run_dict(row: tuple) -> dict[str, Any]:
    out = dict(zip(RUN_COLUMNS, row))
    out["recommendations"] = json.loads(out["recommendations"] or "[]")
    return out


def run_row(conn: sqlite3.Connection, run_id: int) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM chaos_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    out = _run_dict(row)
    name = conn.execute("SELECT name, target FROM chaos_experiments WHERE id = ?", (out["experiment_id"],)).fetchone()
    out["experiment"], out["target"] = name if name else (None, None)
    return out


def running_runs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Runs a previous daemon left `running` (it died or stopped mid-run)."""
    rows = conn.execute(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM chaos_runs WHERE verdict = 'running' ORDER BY id"
    ).fetchall()
    return [_run_dict(r) for r in rows]


def run_events(conn: sqlite3.Connection, run_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, ts, step, status, message, data FROM chaos_events WHERE run_id = ? ORDER BY ts, id", (run_id,)
    ).fetchall()
    return [
        {
            "id": r[0],
            "ts": r[1],
            "step": r[2],
            "status": r[3],
            "message": r[4],
            "data": json.loads(r[5]) if r[5] else {},
        }
        for r in rows
    ]


def last_runs(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """experiment name → its newest run (id, verdict, started_at), for `healerd chaos list`."""
    rows = conn.execute(
        """
        SELECT e.name, r.id, r.verdict, r.started_at FROM chaos_runs r
          JOIN chaos_experiments e ON e.id = r.experiment_id
         WHERE r.id = (SELECT max(id) FROM chaos_runs WHERE experiment_id = e.id)
        """
    ).fetchall()
    return {r[0]: {"id": r[1], "verdict": r[2], "started_at": r[3]} for r in rows}

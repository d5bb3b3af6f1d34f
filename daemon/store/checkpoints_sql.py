"""The SQL behind checkpoints: one `checkpoints` row per version, from `taking` to a final status.

A row is inserted as `taking` before any file is copied (intent before act), so a daemon killed half-way
leaves a row that says so; `fail_interrupted` turns those into `failed` at the next start. Status only
moves forward: taking → verified | failed, verified → corrupt | pruned, corrupt → pruned. Rows are
never deleted, so the history of what was taken stays queryable after the files are gone.

Functions take a plain `sqlite3.Connection` and leave the transaction to the caller (the writer's
batch, or a CLI's short BEGIN IMMEDIATE). Values are plain dicts with `files` decoded.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from daemon.store.sqlite import inserted_id

COLUMNS = ("id", "name", "component_id", "taken_at", "location", "files", "size_bytes", "status")
#: which status may follow which (a guard against two processes racing on one version).
NEXT_STATUSES = {
    "taking": ("verified", "failed"),
    "verified": ("corrupt", "pruned"),
    "corrupt": ("pruned",),
}


def _row(values: Iterable[Any]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values))
    row["files"] = json.loads(row["files"] or "{}")
    return row


def insert_taking(
    conn: sqlite3.Connection, name: str, component: str | None, taken_at: float, location_for: Any
) -> tuple[int, str]:
    """Insert a `taking` row; `location_for(id)` names its directory (the id is only known now)."""
    component_id = None
    if component is not None:
        found = conn.execute("SELECT id FROM components WHERE name = ? AND removed_at IS NULL", (component,)).fetchone()
        component_id = found[0] if found else None
    cur = conn.execute(
        "INSERT INTO checkpoints (name, component_id, taken_at, location, status) VALUES (?, ?, ?, '', 'taking')",
        (name, component_id, taken_at),
    )
    checkpoint_id = inserted_id(cur)
    location = str(location_for(checkpoint_id))
    conn.execute("UPDATE checkpoints SET location = ? WHERE id = ?", (location, checkpoint_id))
    return checkpoint_id, location


def finish_taking(
    conn: sqlite3.Connection, checkpoint_id: int, status: str, files: Mapping[str, str], size_bytes: int
) -> bool:
    """`taking` → verified/failed with the files' checksums; False if the row was no longer `taking`."""
    cur = conn.execute(
        "UPDATE checkpoints SET status = ?, files = ?, size_bytes = ? WHERE id = ? AND status = 'taking'",
        (status, json.dumps(dict(files), sort_keys=True), size_bytes, checkpoint_id),
    )
    return cur.rowcount == 1


def set_status(conn: sqlite3.Connection, checkpoint_id: int, status: str) -> bool:
    """Move a version to `status` if that is a legal next status from where it is; True if it moved."""
    allowed_from = [frm for frm, nxt in NEXT_STATUSES.items() if status in nxt]
    if not allowed_from:
        raise ValueError(f"no status leads to {status!r}")
    marks = ",".join("?" * len(allowed_from))
    cur = conn.execute(
        f"UPDATE checkpoints SET status = ? WHERE id = ? AND status IN ({marks})",
        (status, checkpoint_id, *allowed_from),
    )
    return cur.rowcount == 1


def get(conn: sqlite3.Connection, checkpoint_id: int) -> dict[str, Any] | None:
    found = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM checkpoints WHERE id = ?", (checkpoint_id,)).fetchone()
    return _row(found) if found else None


def list_versions(conn: sqlite3.Connection, name: str | None = None) -> list[dict[str, Any]]:
    """Every version (all statuses), newest first; of one checkpoint name, or of all."""
    where, params = ("WHERE name = ?", (name,)) if name is not None else ("", ())
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM checkpoints {where} ORDER BY taken_at DESC, id DESC", params
    ).fetchall()
    return [_row(r) for r in rows]


def latest_verified(conn: sqlite3.Connection, name: str | None = None) -> dict[str, dict[str, Any]]:
    """name → its newest verified version: what a restore step would use, and when one was last taken."""
    where, params = ("AND name = ?", (name,)) if name is not None else ("", ())
    rows = conn.execute(
        f"""
        SELECT {", ".join(COLUMNS)} FROM checkpoints c
        WHERE status = 'verified' {where}
          AND id = (SELECT id FROM checkpoints d WHERE d.name = c.name AND d.status = 'verified'
                    ORDER BY taken_at DESC, id DESC LIMIT 1)
        """,
        params,
    ).fetchall()
    return {r[1]: _row(r) for r in rows}


def fail_interrupted(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Versions left `taking` (their taker died) become `failed`; returns them so their files can go.

    Call at daemon start only: a CLI `checkpoint create` running at that very moment would see its
    version failed, and would then say so rather than report success (finish_taking returns False).
    """
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM checkpoints WHERE status = 'taking'").fetchall()
    conn.execute("UPDATE checkpoints SET status = 'failed' WHERE status = 'taking'")
    return [_row(r) for r in rows]


# --- the operator's restore, as an operator_commands row ------------------------------------------------

#: What a restore's row says until the CLI reports back; stays if the CLI was killed half-way.
UNFINISHED = "started from the CLI and never reported back (interrupted?)"


def record_restore_started(conn: sqlite3.Connection, name: str, args: Mapping[str, Any], now: float) -> int:
    """The restore's row, written before any file is touched.

    It is born `failed` rather than `pending` on purpose: `pending` rows are the daemon's queue, and the
    daemon would reject a command it does not apply; the CLI applies this one itself and then moves the
    row to its real outcome. A CLI killed in between leaves a row that says so.
    """
    cur = conn.execute(
        "INSERT INTO operator_commands (created_at, command, target, args, status, outcome) "
        "VALUES (?, 'checkpoint_restore', ?, ?, 'failed', ?)",
        (now, name, json.dumps(dict(args), sort_keys=True), UNFINISHED),
    )
    return inserted_id(cur)


def record_restore_finished(conn: sqlite3.Connection, command_id: int, ok: bool, outcome: str, now: float) -> None:
    conn.execute(
        "UPDATE operator_commands SET status = ?, outcome = ?, applied_at = ? WHERE id = ?",
        ("applied" if ok else "failed", outcome, now, command_id),
    )

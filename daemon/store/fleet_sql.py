"""The local side of shipping: reading rows past a mark, the marks themselves, lag, retention's guard.

Reads run on the shipper's own read-only connection; writes (marks, status, holds) are functions the
single writer runs (`writer.submit(lambda conn: save_mark(conn, …))`), so shipping never takes the
write lock for longer than a one-row upsert.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from daemon.store import models
from daemon.store.fleet_models import SHIPPED, Shipped

BY_TABLE: dict[str, Shipped] = {s.table: s for s in SHIPPED}


@dataclass
class Mark:
    shipped_id: int = 0
    open_from: int | None = None
    rows_shipped: int = 0


def columns(table: str) -> list[str]:
    return [c.name for c in models.metadata.tables[table].columns]


def key_column(table: str) -> str:
    (key,) = [c.name for c in models.metadata.tables[table].primary_key.columns]
    return key


def _select(table: str) -> str:
    return "SELECT " + ", ".join(f'"{c}"' for c in columns(table)) + f" FROM {table}"


def _dicts(table: str, rows: list[tuple]) -> list[dict[str, Any]]:
    names = columns(table)
    return [dict(zip(names, row)) for row in rows]


def load_marks(conn: sqlite3.Connection) -> dict[str, Mark]:
    rows = conn.execute("SELECT table_name, shipped_id, open_from, rows_shipped FROM fleet_marks").fetchall()
    return {t: Mark(s, o, n) for t, s, o, n in rows}


def read_new(conn: sqlite3.Connection, table: str, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Rows with id past the mark, oldest first, at most `limit`."""
    rows = conn.execute(f"{_select(table)} WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
    return _dicts(table, rows)


def read_range(
    conn: sqlite3.Connection, table: str, after_key: Any, upto_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Re-read rows by key (keyset pagination): a window's `open_from..shipped_id`, or a whole snapshot."""
    key = key_column(table)
    where = [f'"{key}" > ?'] if after_key is not None else []
    params: list[Any] = [after_key] if after_key is not None else []
    if upto_id is not None:
        where.append(f'"{key}" <= ?')
        params.append(upto_id)
    sql = _select(table) + (" WHERE " + " AND ".join(where) if where else "") + f' ORDER BY "{key}" LIMIT ?'
    return _dicts(table, conn.execute(sql, (*params, limit)).fetchall())


#: How long after its end a silence still counts as open: a clear that read the clock just before the
#: end may commit just after the shipper read the row, and must still be re-sent.
SILENCE_GRACE_S = 60.0


def is_open(spec: Shipped, row: dict[str, Any], now: float) -> bool:
    """Python twin of `spec.open_when`, evaluated on a row already read (`now`: wall seconds)."""
    if spec.table == "config_errors":
        return row["resolved_at"] is None
    if spec.table == "maintenance_periods":
        return row["kind"] == "silence" and row["cleared_at"] is None and row["ends_at"] > now - SILENCE_GRACE_S
    column, value = spec.open_when.split(" = ")
    return row[column] == value.strip("'")


def save_mark(
    conn: sqlite3.Connection, table: str, shipped_id: int, open_from: int | None, rows: int, now: float
) -> None:
    conn.execute(
        """INSERT INTO fleet_marks (table_name, shipped_id, open_from, rows_shipped, shipped_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (table_name) DO UPDATE SET shipped_id = excluded.shipped_id,
               open_from = excluded.open_from, rows_shipped = rows_shipped + excluded.rows_shipped,
               shipped_at = excluded.shipped_at""",
        (table, shipped_id, open_from, rows, now),
    )


def save_status(
    conn: sqlite3.Connection, *, host: str, centre: str, now: float, ok: bool, error: str | None, lag_s: float | None
) -> None:
    conn.execute(
        """INSERT INTO fleet_status (id, host, centre, last_attempt_at, last_success_at, last_error, lag_s, updated_at)
           VALUES (1, :host, :centre, :now, CASE WHEN :ok THEN :now END, :error, :lag, :now)
           ON CONFLICT (id) DO UPDATE SET host = excluded.host, centre = excluded.centre,
               last_attempt_at = excluded.last_attempt_at,
               last_success_at = coalesce(excluded.last_success_at, last_success_at),
               last_error = excluded.last_error, lag_s = excluded.lag_s, updated_at = excluded.updated_at""",
        {"host": host, "centre": centre, "now": now, "ok": ok, "error": error, "lag": lag_s},
    )


def lag(conn: sqlite3.Connection, now: float) -> float:
    """Age of the oldest row not shipped yet, over the tables with a time (0 when caught up)."""
    marks = load_marks(conn)
    oldest: float | None = None
    for spec in SHIPPED:
        if spec.time_column is None:
            continue
        mark = marks.get(spec.table, Mark())
        row = conn.execute(
            f"SELECT {spec.time_column} FROM {spec.table} WHERE id > ? ORDER BY id LIMIT 1", (mark.shipped_id,)
        ).fetchone()
        if row is not None and row[0] is not None:
            oldest = row[0] if oldest is None else min(oldest, row[0])
    return 0.0 if oldest is None else max(0.0, now - oldest)


def status(conn: sqlite3.Connection, now: float) -> dict[str, Any] | None:
    """What `healerd status` shows about shipping; None when this host never shipped."""
    row = conn.execute(
        "SELECT host, centre, last_attempt_at, last_success_at, last_error, updated_at FROM fleet_status WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    host, centre, attempt, success, error, updated = row
    shipped, dropped = conn.execute(
        "SELECT coalesce(sum(rows_shipped), 0), coalesce(sum(dropped_unshipped), 0) FROM fleet_marks"
    ).fetchone()
    return {
        "host": host,
        "centre": centre,
        "last_attempt_at": attempt,
        "last_success_at": success,
        "last_error": error,
        "lag_s": round(lag(conn, now), 3),
        "rows_shipped": shipped,
        "dropped_unshipped": dropped,
        "updated_at": updated,
    }


# --- retention's guard ---------------------------------------------------------------------------------


def unshipped_guard(table: str) -> str | None:
    """SQL condition a row of `table` must meet to be pruned while shipping is on: already shipped in
    its final form. None for tables that are not shipped (or not keyed by id)."""
    spec = BY_TABLE.get(table)
    if spec is None or spec.mode == "snapshot":
        return None
    mark = f"(SELECT {{}} FROM fleet_marks WHERE table_name = '{table}')"
    return (
        f"id <= coalesce({mark.format('shipped_id')}, 0)"
        f" AND id < coalesce({mark.format('open_from')}, {mark.format('shipped_id + 1')}, 0)"
    )


def count_dropped(conn: sqlite3.Connection, table: str, count: int) -> None:
    conn.execute(
        """INSERT INTO fleet_marks (table_name, dropped_unshipped) VALUES (?, ?)
           ON CONFLICT (table_name) DO UPDATE SET dropped_unshipped = dropped_unshipped + excluded.dropped_unshipped""",
        (table, count),
    )


def breakers_open(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM breakers WHERE state IN ('open', 'half_open') LIMIT 1").fetchone() is not None


# --- fleet holds ---------------------------------------------------------------------------------------


def load_holds(conn: sqlite3.Connection, now: float) -> dict[str, tuple[float, str, int]]:
    rows = conn.execute(
        "SELECT component, until, reason, fleet_incident_id FROM fleet_holds WHERE until > ?", (now,)
    ).fetchall()
    return {c: (u, r, i) for c, u, r, i in rows}


def save_hold(
    conn: sqlite3.Connection, component: str, incident_id: int, until: float, reason: str, now: float
) -> None:
    conn.execute(
        """INSERT INTO fleet_holds (component, fleet_incident_id, until, reason, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (component) DO UPDATE SET fleet_incident_id = excluded.fleet_incident_id,
               until = excluded.until, reason = excluded.reason, updated_at = excluded.updated_at""",
        (component, incident_id, until, reason, now),
    )

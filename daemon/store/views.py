"""Read the report views, always on a read-only connection.

A report must never be able to change the database it reports on, nor wait behind the writer for
more than the busy timeout; both follow from opening `file:PATH?mode=ro` (see store/sqlite.py).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from daemon.errors import ReportError
from daemon.store import schema_sql
from daemon.store.probe import require_healerd_db
from daemon.store.sqlite import connect


def list_views(conn: sqlite3.Connection) -> list[str]:
    """Names of the views in the database, sorted."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name").fetchall()
    return [row[0] for row in rows]


def describe_views(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, one-line summary) per view in the database; the summary comes from its schema/ file."""
    known = schema_sql.files("view")
    described = []
    for name in list_views(conn):
        path = known.get(name)
        described.append((name, schema_sql.summary(path.read_text(encoding="utf-8")) if path else ""))
    return described


def open_readonly(db_path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection, or a ReportError saying why there is none."""
    path = require_healerd_db(db_path)
    try:
        conn = connect(path, readonly=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read database {path}: {exc}") from exc
    return conn


def query_view(
    db_path: str | os.PathLike[str],
    view: str,
    *,
    limit: int | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of one view; an unknown view name is a ReportError listing the known ones."""
    if limit is not None and limit < 0:
        raise ReportError(f"limit must be zero or more, not {limit}")
    conn = open_readonly(db_path)
    try:
        return query_view_on(conn, view, limit=limit)
    finally:
        conn.close()


def query_view_on(
    conn: sqlite3.Connection, view: str, *, limit: int | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """`query_view` on an open connection (the HTTP API runs it on an aiosqlite thread)."""
    known = list_views(conn)
    if view not in known:
        listed = ", ".join(known) if known else "none (is the database migrated?)"
        raise ReportError(f"unknown view {view!r}; known views: {listed}")
    # The name is one of the database's own views, so quoting it is enough to make it safe.
    sql = f'SELECT * FROM "{view}"'
    params: tuple[Any, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (limit,)
    try:
        cursor = conn.execute(sql, params)
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read view {view!r}: {exc}") from exc
    columns = [description[0] for description in cursor.description]
    return columns, rows

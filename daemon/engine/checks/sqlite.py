"""`sqlite` check: `PRAGMA quick_check` on a read-only connection.

Read-only (`mode=ro` URI) so checking a database can never write to it, create it, or take a write
lock. The check runs in a worker thread (sqlite3 blocks); when the check's timeout cancels us, the
statement is interrupted with `Connection.interrupt()` so the thread does not keep scanning a large
file after we have given up on it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import urllib.parse

from daemon.config.models import Component, SqliteCheck
from daemon.engine.checks.base import CheckContext, Outcome, healthy, short, unhealthy

#: quick_check stops after this many problems; the first is the message, the count goes with it.
MAX_ERRORS = 10


def _uri(path: str) -> str:
    # Quote the path so '?' or '#' in a file name cannot smuggle URI parameters in.
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"


def _quick_check(conn: sqlite3.Connection, lock: threading.Lock) -> list[str]:
    try:
        rows = conn.execute(f"PRAGMA quick_check({MAX_ERRORS})").fetchall()
        return [str(row[0]) for row in rows]
    finally:
        with lock:
            conn.close()


async def check_sqlite(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, SqliteCheck)
    if not os.path.exists(check.path):  # noqa: ASYNC240 - one stat of a local file, cheaper than a thread hop
        return unhealthy("missing", f"{check.path} does not exist")
    try:
        conn = await asyncio.to_thread(
            sqlite3.connect, _uri(check.path), uri=True, check_same_thread=False, timeout=1.0
        )
    except sqlite3.Error as exc:
        return unhealthy("error", short(f"cannot open {check.path}: {exc}"))
    lock = threading.Lock()
    try:
        problems = await asyncio.to_thread(_quick_check, conn, lock)
    except asyncio.CancelledError:
        with lock:
            try:
                conn.interrupt()
            except sqlite3.ProgrammingError:
                pass  # already closed by the worker
        raise
    except sqlite3.OperationalError as exc:
        # busy/locked, cannot open (e.g. a WAL file we may not create), I/O error: not proof of damage.
        return unhealthy("error", short(f"{check.path}: {exc}"))
    except sqlite3.DatabaseError as exc:  # SQLITE_CORRUPT / SQLITE_NOTADB: "malformed", "not a database"
        return unhealthy("corrupt", short(f"{check.path}: {exc}"))
    if problems == ["ok"]:
        return healthy(f"{check.path}: quick_check ok")
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return unhealthy("corrupt", short(f"{check.path}: {problems[0]}{more}", 200))

"""Reads for the HTTP service: aiosqlite read-only connections with a deadline, never the writer's.

The report functions (status, explain, views) are plain functions of a `sqlite3.Connection`, shared
with the CLI so both print the same JSON. Here they run on aiosqlite's own thread, on a connection
opened `mode=ro` with healerd's pragmas, so the event loop never waits on SQLite. The deadline is a
progress handler: SQLite calls it every few thousand VM steps and aborts the statement once it returns
non-zero, which — unlike cancelling the awaiting task — really stops a runaway query on its thread.

A fresh connection per request: opening one costs well under a
millisecond, and a connection held open between requests would pin an old WAL snapshot.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

from daemon.errors import ReportError
from daemon.store.sqlite import BUSY_TIMEOUT_MS, apply_pragmas, readonly_uri

T = TypeVar("T")
#: SQLite VM instructions between two calls of the deadline handler.
PROGRESS_STEPS = 10_000


class ReadTimeout(ReportError):
    """A read did not finish within its deadline (the statement was aborted)."""


async def read(path: str | os.PathLike[str], fn: Callable[..., T], *args: Any, timeout: float) -> T:
    """`fn(conn, *args)` on a fresh read-only connection, aborted after `timeout` seconds."""
    if not os.path.isfile(path):  # noqa: ASYNC240 - one stat of a local file, cheaper than a thread hop
        raise ReportError(f"database {path} does not exist")
    deadline = time.monotonic() + timeout
    busy_ms = max(1, min(BUSY_TIMEOUT_MS, int(timeout * 1000)))

    def call(conn: sqlite3.Connection) -> T:
        apply_pragmas(conn, readonly=True)
        # the pragma sets 5 s; a request's budget may be shorter
        conn.execute(f"PRAGMA busy_timeout={busy_ms}").fetchall()
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, PROGRESS_STEPS)
        try:
            return fn(conn, *args)
        except sqlite3.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ReadTimeout(f"read aborted after {timeout:g}s") from None
            raise ReportError(f"cannot read {path}: {exc}") from None

    try:
        async with asyncio.timeout(timeout + 1.0):  # the handler aborts SQL; this bounds everything else
            async with aiosqlite.connect(
                readonly_uri(path), uri=True, timeout=busy_ms / 1000, isolation_level=None
            ) as db:
                # aiosqlite has no public way to run a function on its connection's thread; `_execute`
                # is what its own methods use, and has been there since its first releases.
                return await db._execute(call, db._conn)
    except TimeoutError:
        raise ReadTimeout(f"read did not finish within {timeout:g}s") from None

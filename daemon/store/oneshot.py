"""Short write transactions for processes that are not the daemon (the CLI's operator commands).

The daemon's writer owns the only long-lived write connection, but SQLite arbitrates any number of
writers: a CLI command opens its own connection, takes the write lock up front with BEGIN IMMEDIATE
(so it never fails half-way on lock upgrade), does a few statements and commits. `busy_timeout` makes
each side wait out the other's milliseconds-long transactions, and the writer retries a batch that
still meets SQLITE_BUSY. The same `fn(conn)` functions run here and in `Writer.submit`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from daemon.store.sqlite import connect

T = TypeVar("T")
#: The shape every "write this in a transaction" runner has: `Writer.submit` in the daemon, `runner(path)`
#: here. Engine functions that must record something take one, so they serve the daemon and the CLI alike.
DbCall = Callable[[Callable[[sqlite3.Connection], T]], Awaitable[T]]


def run_in_transaction(path: str | os.PathLike[str], fn: Callable[[sqlite3.Connection], T]) -> T:
    """`fn(conn)` inside BEGIN IMMEDIATE … COMMIT on a fresh connection (rolled back if it raises)."""
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            value = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return value
    finally:
        conn.close()


def runner(path: str | os.PathLike[str]) -> DbCall:
    """An async `db(fn)` with the shape of `Writer.submit`, each call its own transaction on a thread."""

    async def call(fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(run_in_transaction, path, fn)

    return call

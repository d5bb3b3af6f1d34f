"""The daemon's own reads: one read-only connection per worker thread, opened once and kept.

Opening a connection is cheap for SQLite but not for this schema: the first statement on a new
connection parses every table, index, view and trigger in `sqlite_master`, ~3 ms of CPU here. The
operator-command poll alone read four times a second on a fresh connection, which came to ~75 µs per
check at 200 checks a second (issue 11). A kept connection reads in autocommit mode, so it holds no
snapshot between reads and never keeps the WAL from being checkpointed.

The CLI and the HTTP API keep opening their own short-lived connections (`store/aioread.py`): they are
not periodic, and a request's timeout must be able to abandon its connection.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from daemon.store.sqlite import connect

T = TypeVar("T")


class ThreadReaders:
    """`read(fn, *args)` runs `fn(conn, *args)` on this thread's kept read-only connection.

    Blocking: callers run it through `asyncio.to_thread`, whose worker threads live as long as the
    loop, so the daemon holds at most one connection per worker thread.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[sqlite3.Connection] = []
        self._closed = False

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._conn()
        try:
            result = fn(conn, *args)
        except sqlite3.Error:
            # A connection that failed may be in any state (a corrupt page, a file replaced under it):
            # the next read opens a new one instead of repeating the error on the old one.
            self._forget(conn)
            raise
        except BaseException:
            self._end_transaction(conn)
            raise
        self._end_transaction(conn)
        return result

    def close(self) -> None:
        """Close every kept connection; reads after this raise RuntimeError (called once, at stop)."""
        with self._lock:
            self._closed = True
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("the daemon's readers are closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        conn = connect(self.path, readonly=True, check_same_thread=False)
        with self._lock:
            if self._closed:
                conn.close()
                raise RuntimeError("the daemon's readers are closed")
            self._open.append(conn)
        self._local.conn = conn
        return conn

    @staticmethod
    def _end_transaction(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # a reader that began a transaction must not keep its snapshot
            conn.rollback()

    def _forget(self, conn: sqlite3.Connection) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
        conn.close()

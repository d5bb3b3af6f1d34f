"""Every SQLite connection healerd opens, with the same settings and the reason for each.

SQLite settings such as `foreign_keys` and `busy_timeout` belong to a connection, not to the file, so
they must be applied each time a connection is opened — by the plain `sqlite3` module, by SQLAlchemy's
pool, and by aiosqlite alike. They all go through `PRAGMAS` below. One writer holds the only read-write
connection; everything else (reports, the CLI, the event loop reading views) opens read-only
connections with the URI `file:PATH?mode=ro`, so a bug in a reader can never write.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `healerd report`/`status` read through plain sqlite3 and must
    # not pay ~100-250 ms importing SQLAlchemy and aiosqlite they never use (issue 11).
    import sqlalchemy

#: Milliseconds a statement waits for another connection's lock before failing with SQLITE_BUSY.
BUSY_TIMEOUT_MS = 5000


def _pragmas(*, readonly: bool, foreign_keys: bool = True) -> list[str]:
    """The pragma statements for one new connection, in order."""
    statements = []
    if not readonly:
        # WAL: readers never block the writer and the writer never blocks readers, which is what lets
        # reports run while the daemon commits every 50 ms. The mode is stored in the file, so
        # read-only connections inherit it (and could not change it anyway).
        statements.append("PRAGMA journal_mode=WAL")
    # NORMAL instead of FULL: in WAL mode a commit is an append to the WAL and NORMAL skips only the
    # fsync at each commit, syncing at checkpoints instead. A power loss can then drop the last few
    # commits but never corrupts the database; an application crash (even kill -9) loses nothing that
    # was committed, because the WAL is already in the OS's cache.
    statements.append("PRAGMA synchronous=NORMAL")
    # SQLite ships with foreign keys off for backward compatibility; without this a history row
    # could point at a component that does not exist. Only the migration runner turns it off, because
    # batch migrations rebuild referenced tables and check the keys themselves afterwards.
    statements.append(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    # Wait for a competing lock instead of failing at once: the writer's transactions last
    # milliseconds, so a reader or a CLI command that meets one should simply wait for it.
    statements.append(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if readonly:
        # Belt and braces on top of mode=ro: refuses writes even where the URI is not honoured.
        statements.append("PRAGMA query_only=ON")
    return statements


def apply_pragmas(conn: sqlite3.Connection, *, readonly: bool, foreign_keys: bool = True) -> None:
    for statement in _pragmas(readonly=readonly, foreign_keys=foreign_keys):
        conn.execute(statement).fetchall()


def readonly_uri(path: str | os.PathLike[str]) -> str:
    """`file:` URI opening PATH read-only; percent-encoded so any file name works."""
    return Path(path).absolute().as_uri() + "?mode=ro"


def connect(
    path: str | os.PathLike[str],
    *,
    readonly: bool = False,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """A plain sqlite3 connection with healerd's pragmas.

    `isolation_level=None` turns off the sqlite3 module's implicit `BEGIN DEFERRED`: callers open
    their own transactions (the writer uses `BEGIN IMMEDIATE`, so it takes the write lock up front and
    never fails half-way with SQLITE_BUSY on lock upgrade).
    """
    if readonly:
        conn = sqlite3.connect(
            readonly_uri(path),
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
    else:
        conn = sqlite3.connect(
            os.fspath(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
    try:
        apply_pragmas(conn, readonly=readonly)
    except BaseException:
        conn.close()
        raise
    return conn


def create_engine(
    path: str | os.PathLike[str],
    *,
    readonly: bool = False,
    foreign_keys: bool = True,
    **kwargs: Any,
) -> sqlalchemy.Engine:
    """An SQLAlchemy engine whose every pooled connection gets healerd's pragmas.

    NullPool by default: SQLite connections are cheap, and holding none open means the WAL is
    checkpointed and the file can be copied or removed as soon as the work is done. A read-write
    engine's transactions start with BEGIN IMMEDIATE (they are there to write: migrations), so they
    take the write lock up front instead of failing on lock upgrade; reads belong on `readonly=True`.
    """
    import sqlalchemy
    from sqlalchemy import event
    from sqlalchemy.pool import NullPool

    if readonly:
        target, uri = readonly_uri(path), True
    else:
        target, uri = os.fspath(path), False

    def _open() -> sqlite3.Connection:
        # Opened by hand rather than from a URL, so no file name is ever parsed as URL syntax.
        return sqlite3.connect(target, uri=uri, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)

    kwargs.setdefault("poolclass", NullPool)
    engine = sqlalchemy.create_engine("sqlite+pysqlite://", creator=_open, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions start, so DDL in a
        # migration is inside the transaction too (SQLite's DDL is transactional; pysqlite's implicit
        # BEGIN only precedes DML). The recipe is SQLAlchemy's "Serializable isolation" one.
        dbapi_conn.isolation_level = None
        apply_pragmas(dbapi_conn, readonly=readonly, foreign_keys=foreign_keys)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sqlalchemy.Connection) -> None:
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def inserted_id(cur: sqlite3.Cursor) -> int:
    """The rowid an INSERT just made (sqlite3 types `lastrowid` as optional: None only before any INSERT)."""
    rowid = cur.lastrowid
    if rowid is None:
        raise RuntimeError("no row was inserted")
    return rowid


def pragma_values(conn: sqlite3.Connection, names: Iterable[str]) -> dict[str, Any]:
    """Current values of some pragmas (for `healerd status` and the tests that pin them)."""
    return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

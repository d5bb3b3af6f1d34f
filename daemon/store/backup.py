"""A consistent copy of the live database, taken while the daemon writes to it.

`cp healerd.db` during a write copies a torn file, and without its `-wal` it misses the last commits:
the copy an operator restores after a disk failure would be corrupt or old. SQLite's online backup
copies one snapshot (a read transaction; in WAL mode the daemon's writer is never blocked), in one
step: copied in steps, a backup restarts from the beginning whenever another connection commits, so a
daemon committing every second could keep a stepped backup of a large file from ever finishing.

The copy is written beside the target under a temporary name, switched to rollback-journal mode so it
is one self-contained file, checked with `PRAGMA quick_check`, fsynced, then renamed into place: a
crash or a full disk leaves either the previous target or none, never half a backup under its name.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from daemon.errors import StoreError
from daemon.store.sqlite import connect


class BackupError(StoreError):
    """The copy could not be written or did not verify; the target is untouched."""


@dataclass(frozen=True)
class Backup:
    target: Path
    bytes: int
    revision: str | None
    seconds: float


def backup(db_path: Path, target: Path, *, overwrite: bool = False) -> Backup:
    """Copy `db_path` (a healerd database the caller has checked) to `target`."""
    target = Path(target)
    if target.exists() and target.resolve() == Path(db_path).resolve():
        raise BackupError(f"{target} is the database itself")
    if target.is_dir():
        raise BackupError(f"{target} is a directory; name the file to write")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists; pass --force to replace it")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} does not exist")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    started = time.monotonic()
    try:
        src = connect(db_path, readonly=True)
        try:
            dst = sqlite3.connect(tmp, isolation_level=None)
            try:
                src.backup(dst)  # pages=-1: the whole snapshot in one step (see the module docstring)
                dst.execute("PRAGMA journal_mode = DELETE")  # one file: no -wal to lose when copied on
                verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
                if verdict != "ok":
                    raise BackupError(f"the copy does not verify (quick_check: {verdict}); {target} is untouched")
                revision = _revision(dst)
            finally:
                dst.close()
        finally:
            src.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {db_path} to {target}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            leftover.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size, revision, time.monotonic() - started)


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else row[0]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

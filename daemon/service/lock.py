"""One daemon per database, and a way for the CLI to know whether that daemon is running.

The daemon holds an exclusive `flock` on `<db>.lock` for its whole life. The kernel drops the lock when
the process dies, even by `kill -9`, so there is no stale pidfile to clean up. The CLI probes the lock:
if it can take it, no daemon is running and the CLI applies an operator command itself (holding the lock
while it does, so a daemon cannot start in between); otherwise it leaves the command for the daemon.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from daemon.errors import StartupError


def lock_path(db_path: Path) -> Path:
    """`<db>.lock` next to the database's real file: a symlink, `a/../a.db` or a relative path all name
    the same lock, so a second daemon cannot start on the same file through another spelling."""
    return Path(str(Path(db_path).resolve()) + ".lock")


class DaemonLock:
    def __init__(self, db_path: Path) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def acquire_for_daemon(self) -> None:
        if not self.try_acquire():
            holder = self.holder_pid()
            raise StartupError(
                f"another healerd is already running on this database (lock {self.path}"
                + (f", pid {holder}" if holder else "")
                + ")"
            )

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DaemonLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def daemon_running(db_path: Path) -> bool:
    lock = DaemonLock(db_path)
    if lock.try_acquire():
        lock.release()
        return False
    return True

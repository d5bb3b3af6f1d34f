"""A real healerd daemon in a subprocess, with a real sd_notify socket, and the config it runs on."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import wait_until


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o755)
    path.write_text(textwrap.dedent(text))
    os.chmod(path, 0o644)
    return path


@dataclass
class ConfigDir:
    root: Path

    def policy(self, name: str, text: str) -> Path:
        return write_file(self.root / "policies.d" / name, text)

    def settings(self, text: str) -> Path:
        return write_file(self.root / "healerd.toml", text)


@pytest.fixture
def config_dir(tmp_path: Path) -> ConfigDir:
    root = tmp_path / "etc"
    root.mkdir()
    os.chmod(root, 0o755)
    (root / "policies.d").mkdir()
    os.chmod(root / "policies.d", 0o755)
    return ConfigDir(root)


class NotifyListener:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages: list[list[str]] = []

    def drain(self) -> list[list[str]]:
        while True:
            try:
                self.messages.append(self.sock.recv(65536).decode().split("\n"))
            except BlockingIOError:
                return self.messages

    def has(self, line: str, after: int = 0) -> bool:
        return any(line in m for m in self.drain()[after:])

    def index_of(self, line: str, after: int = 0) -> int | None:
        for i, m in enumerate(self.drain()[after:], start=after):
            if line in m:
                return i
        return None

    def close(self) -> None:
        self.sock.close()


@dataclass
class DaemonProcess:
    proc: subprocess.Popen
    db: Path
    log: Path
    notify: NotifyListener
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(
            lambda: self.notify.has("READY=1") or self.proc.poll() is not None,
            timeout,
            message=lambda: self.log.read_text()[-3000:],
        )
        assert self.proc.poll() is None, f"daemon exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def query(self, sql: str, params=()) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator:
    started: list[DaemonProcess] = []
    counter = iter(range(1000))

    def start(
        config: ConfigDir, db: Path | None = None, *, wait: bool = True, env: dict | None = None
    ) -> DaemonProcess:
        n = next(counter)
        db = db or tmp_path / "healerd.db"
        log = tmp_path / f"daemon-{n}.log"
        notify = NotifyListener(tmp_path / f"notify-{n}.sock")
        full_env = {
            **os.environ,
            "NOTIFY_SOCKET": notify.path,
            "RUNTIME_DIRECTORY": str(tmp_path / "run"),
            **(env or {}),
        }
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daemon",
                    "run",
                    "--config",
                    str(config.root),
                    "--db",
                    str(db),
                    "--log-format",
                    "json",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=True,
            )
        d = DaemonProcess(proc, db, log, notify)
        started.append(d)
        if wait:
            d.wait_ready()
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            try:
                os.killpg(d.proc.pid, signal.SIGKILL)  # its own session: pgid == pid
            except ProcessLookupError:
                pass
            d.proc.wait(10)
        d.notify.close()


@pytest.fixture
def free_port() -> Iterator:
    """A port nothing listens on: bound then closed, so a connect gets ECONNREFUSED."""

    def make() -> int:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    yield make


class Listener:
    """A TCP listener on 127.0.0.1 whose thread accepts and closes every connection until closed."""

    def __init__(self, port: int = 0) -> None:
        import threading

        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)


@pytest.fixture
def listener() -> Iterator:
    made: list[Listener] = []

    def make(port: int = 0) -> Listener:
        lst = Listener(port)
        made.append(lst)
        return lst

    yield make
    for lst in made:
        lst.close()

"""Real parts for the action, checkpoint and notification tests: a recording HTTP server on 127.0.0.1:0
and child processes that are cleaned up by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until

from daemon.engine.checks.process import read_cmdline
from daemon.engine.pidwatch import pid_alive


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class RecordingServer:
    """Answers every request with the next of `statuses` (the last one repeats) and records it.

    `hang = True` makes handlers wait until teardown, for timeout tests.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.statuses: list[int] = [200]
        self.body = b"ok"
        self.hang = False
        self.release = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer._lock:
                    outer.requests.append(Request(self.command, self.path, dict(self.headers), body))
                    index = min(len(outer.requests), len(outer.statuses)) - 1
                    status = outer.statuses[index]
                if outer.hang:
                    outer.release.wait(30)
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.close()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Children:
    """Python children started by a test and killed by pid (group) at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        #: pids of grandchildren a test expects to be gone: (pid, a text their command line contains), so
        #: teardown never kills a pid the kernel has meanwhile given to someone else.
        self.extra_pids: list[tuple[int, str]] = []

    def python(self, code: str, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], start_new_session=True)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=10)
        for pid, marker in self.extra_pids:
            if marker not in (read_cmdline(pid) or ""):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    yield kids
    kids.close()


def wait_gone(pid: int) -> None:
    wait_until(lambda: not pid_alive(pid), message=f"pid {pid} still alive")


def wait_file(path: Path, timeout: float = 10.0) -> str:
    """The file's text once it exists and is non-empty (written by another process)."""
    return wait_until(lambda: path.exists() and path.read_text(), timeout=timeout, message=f"{path} never written")

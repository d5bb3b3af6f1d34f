"""Real local services for the healer's end-to-end tests, all cleaned up by pid.

- `Service`: one examples/services/httpservice.py instance on a fixed free port (so a restart comes
  back on the same port the check watches), with a pidfile and a mode file; its `start`/`stop`
  commands are the recovery actions in the generated config.
- `Gate`: an argv prefix that blocks until the test opens the gate, recording each blocked process's
  pid, for "kill -9 in the middle of a recovery" and "the dependency is still down" scenarios.
- `WebhookReceiver`: a threaded HTTP server on 127.0.0.1:0 that records every POSTed JSON body (and
  can hang before answering, for "killed while sending").
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HTTPSERVICE = ROOT / "examples" / "services" / "httpservice.py"
ROUTE_TO = ROOT / "examples" / "services" / "route_to.py"
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_pid(pid: int) -> None:
    """SIGKILL the process group led by `pid` (services and gates run in their own session), else the pid."""
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError):
            continue


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass
class Service:
    name: str
    directory: Path
    port: int = field(default_factory=free_port)
    mode: str = "healthy"

    @property
    def pidfile(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def mode_file(self) -> Path:
        return self.directory / f"{self.name}.mode"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def argv(self, command: str) -> list[str]:
        if command == "stop":
            return [PY, str(HTTPSERVICE), "stop", "--pidfile", str(self.pidfile)]
        return [
            PY,
            str(HTTPSERVICE),
            command,
            "--port",
            str(self.port),
            "--pidfile",
            str(self.pidfile),
            "--mode-file",
            str(self.mode_file),
            "--log",
            str(self.directory / f"{self.name}.log"),
        ]

    def set_mode(self, mode: str) -> None:
        """Write the mode file (read by the service on every request and at start: survives restarts)."""
        tmp = self.mode_file.with_name(self.mode_file.name + ".tmp")
        tmp.write_text(mode + "\n")
        os.replace(tmp, self.mode_file)

    def start(self) -> None:
        if not self.mode_file.exists():
            self.set_mode(self.mode)
        subprocess.run(self.argv("start"), check=True, timeout=30, capture_output=True)

    @property
    def pid(self) -> int | None:
        return read_pid(self.pidfile)

    def crash(self) -> None:
        """The process dies at once (exit 70), like a crash; a restart brings it back (mode file unchanged)."""
        pid = self.pid
        assert pid is not None, f"{self.name} is not running"
        kill_pid(pid)

    def kill(self) -> None:
        pid = self.pid
        if pid is not None:
            kill_pid(pid)


class Gate:
    """`argv(...)` blocks until `open()`; every blocked process appends its pid to a file for cleanup."""

    SCRIPT = (
        "import os, sys, time\n"
        "gate, pids = sys.argv[1], sys.argv[2]\n"
        "with open(pids, 'a') as f: f.write(f'{os.getpid()}\\n')\n"
        "deadline = time.monotonic() + 120\n"
        "while not os.path.exists(gate) and time.monotonic() < deadline: time.sleep(0.02)\n"
        "os.execv(sys.argv[3], sys.argv[3:])\n"
    )

    def __init__(self, directory: Path, name: str = "gate") -> None:
        self.path = directory / f"{name}.open"
        self.pids_file = directory / f"{name}.pids"

    def argv(self, argv: list[str]) -> list[str]:
        return [PY, "-c", self.SCRIPT, str(self.path), str(self.pids_file), *argv]

    def open(self) -> None:
        self.path.write_text("open\n")

    def close(self) -> None:
        self.path.unlink(missing_ok=True)

    @property
    def pids(self) -> list[int]:
        try:
            return [int(line) for line in self.pids_file.read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        for pid in self.pids:
            kill_pid(pid)


class WebhookReceiver:
    """Records every POST body (JSON) sent to it; answers 200."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        #: while clear, requests are recorded but not answered (a receiver that hangs); set to answer.
        self.answering = threading.Event()
        self.answering.set()
        self._closing = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    message = json.loads(body)
                except ValueError:
                    message = {"unparsed": body.decode(errors="replace")}
                with outer._lock:
                    outer.messages.append(message)
                while not outer.answering.wait(0.05):
                    if outer._closing.is_set():
                        return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m.get("kind") == kind]

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)

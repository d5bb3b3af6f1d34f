"""Fixtures for chaos runs on a real daemon against a real local HTTP service.

The daemon fixtures (`config_dir`, `start_daemon`) are tests/daemon/conftest.py's, loaded by path under
a unique module name (a conftest cannot be imported by name: several directories have one), so both
suites start the daemon the same way. `service` starts examples/services/httpservice.py in its own
session and kills, at the end, whichever process the pidfile then names (the healer may have restarted
it) — by pid, never by name.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import wait_until

_spec = importlib.util.spec_from_file_location(
    "daemon_fixtures_for_chaos", Path(__file__).parent.parent / "daemon" / "conftest.py"
)
_daemon_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _daemon_fixtures  # dataclasses look their module up by name
_spec.loader.exec_module(_daemon_fixtures)
config_dir = _daemon_fixtures.config_dir
start_daemon = _daemon_fixtures.start_daemon
free_port = _daemon_fixtures.free_port
write_file = _daemon_fixtures.write_file

HTTPSERVICE = Path(__file__).resolve().parents[2] / "examples" / "services" / "httpservice.py"


@dataclass
class Service:
    """httpservice.py on 127.0.0.1:port, with its pidfile and a mode file that survives restarts."""

    root: Path
    port: int

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "app.pid"

    @property
    def mode_file(self) -> Path:
        return self.root / "run" / "app.mode"

    def argv(self, command: str) -> list[str]:
        return [
            sys.executable,
            str(HTTPSERVICE),
            command,
            "--port",
            str(self.port),
            "--pidfile",
            str(self.pidfile),
            "--mode-file",
            str(self.mode_file),
            "--log",
            str(self.root / "run" / "app.log"),
        ]

    def start(self) -> int:
        self.mode_file.parent.mkdir(parents=True, exist_ok=True)
        self.mode_file.write_text("healthy\n")
        subprocess.run(self.argv("start"), check=True, timeout=30, capture_output=True)
        return self.pid()

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            ours = HTTPSERVICE.name.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if ours else None

    def answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as reply:
                return reply.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pid = self.pid()
            if pid is None:
                return
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 5)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def service(config_dir, free_port) -> Iterator[Service]:
    svc = Service(config_dir.root, free_port())
    yield svc
    svc.kill()

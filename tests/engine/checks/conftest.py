"""Real parts for check tests: HTTP servers on 127.0.0.1:0, child processes cleaned up by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import wait_until
from httpservers import HttpServer, Route  # noqa: F401 (Route re-exported for the http tests)

from daemon.config.models import Component
from daemon.engine.checks.process import read_cmdline
from daemon.engine.pidwatch import pid_alive


def make_component(kind: str, name: str = "svc", pidfile: str | None = None, **check: Any) -> Component:
    data: dict[str, Any] = {"name": name, "check": {"kind": kind, **check}}
    if pidfile is not None:
        data["pidfile"] = pidfile
    return Component.model_validate(data)


@pytest.fixture
def component() -> Callable[..., Component]:
    return make_component


@pytest.fixture
def gone() -> Callable[[int], bool]:
    """`gone(pid)`: waits (bounded) until pid is dead or a zombie; fails the test if it never is."""
    return lambda pid: wait_until(lambda: not pid_alive(pid), message=f"pid {pid} still alive")


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = HttpServer()
    yield server
    server.close()


@pytest.fixture
def closed_port() -> int:
    """A port we bound and released: nothing listens there, so a connect is refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `python -c CODE` children in their own group; every one is killed by pgid at teardown."""
    children: list[subprocess.Popen] = []

    def start(code: str = "import time; time.sleep(120)", *args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], start_new_session=True)
        children.append(proc)
        # Popen returns before the kernel has filled in the new program's arguments; until then
        # /proc/PID/cmdline reads empty, and a `match` check could not see the child yet.
        wait_until(lambda: read_cmdline(proc.pid) is not None or proc.poll() is not None)
        return proc

    yield start
    for proc in children:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)

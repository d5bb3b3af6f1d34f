"""examples/services/httpservice.py: the service the examples watch and later tests break on purpose."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import wait_until

SERVICE = Path(__file__).resolve().parents[2] / "examples" / "services" / "httpservice.py"


def _get(port: int, path: str, timeout: float = 5.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def service(tmp_path):
    """Start the service detached (as the example's actions do); kill it by its pid afterwards."""
    run = tmp_path / "run"

    def start(*extra: str) -> tuple[int, int]:
        argv = [
            sys.executable,
            str(SERVICE),
            "start",
            "--port",
            "0",
            "--port-file",
            str(run / "port"),
            "--pidfile",
            str(run / "pid"),
            "--mode-file",
            str(run / "mode"),
            "--slow-ms",
            "50",
            *extra,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return int((run / "port").read_text()), int((run / "pid").read_text())

    yield start, run
    try:
        pid = int((run / "pid").read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


def test_service_modes_change_what_healthz_answers(service):
    start, run = service
    port, _pid = start()
    assert _get(port, "/healthz") == (200, {"status": "ok", "mode": "healthy"})
    assert _get(port, "/control?mode=fail")[0] == 200
    assert _get(port, "/healthz")[0] == 500
    _get(port, "/control?mode=slow")
    assert _get(port, "/healthz") == (200, {"status": "ok", "mode": "slow"})
    _get(port, "/control?mode=hang")
    with pytest.raises(TimeoutError):
        _get(port, "/healthz", timeout=0.3)
    assert _get(port, "/control?mode=healthy")[0] == 200  # control still answers while health hangs
    assert _get(port, "/healthz")[0] == 200
    assert (run / "mode").read_text().strip() == "healthy"


def test_crash_mode_kills_the_process_and_survives_a_restart(service):
    start, run = service
    port, pid = start()
    _get(port, "/control?mode=crash")
    wait_until(lambda: not _alive(pid), timeout=10, message="service did not exit")
    again = subprocess.run(
        [
            sys.executable,
            str(SERVICE),
            "start",
            "--port",
            "0",
            "--port-file",
            str(run / "port"),
            "--pidfile",
            str(run / "pid"),
            "--mode-file",
            str(run / "mode"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 1 and "exited with status 70" in again.stderr


def test_stop_by_pidfile_and_stop_when_not_running(service):
    start, run = service
    _port, pid = start()
    stop = [sys.executable, str(SERVICE), "stop", "--pidfile", str(run / "pid")]
    assert subprocess.run(stop, capture_output=True, text=True, timeout=30).stdout.startswith("stopped")
    wait_until(lambda: not _alive(pid), timeout=10)
    assert not (run / "pid").exists()  # removed on a clean exit
    assert subprocess.run(stop, capture_output=True, text=True, timeout=30).stdout.strip() == "not running"


def test_start_does_not_take_an_exiting_process_for_a_running_one(tmp_path):
    """A service killed a moment before (its pid still in the pidfile, the process not yet reaped) must not
    make `start` answer "already running" and exit 0 with nothing up: the healer's restart would 'work'.
    (A zombie's empty cmdline already kept this true; the state letter is now checked on purpose, and
    `stop` waits for a SIGKILLed process to be gone before `restart` starts the new one.)"""
    run = tmp_path / "run"
    run.mkdir()
    old = subprocess.Popen(
        [
            sys.executable,
            str(SERVICE),
            "run",
            "--port",
            "0",
            "--port-file",
            str(run / "port"),
            "--pidfile",
            str(run / "pid"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    new_pid = None
    try:
        wait_until(lambda: (run / "pid").exists(), timeout=10)
        os.kill(old.pid, signal.SIGKILL)  # not reaped by us yet: a zombie that the pidfile still names
        wait_until(lambda: not _alive(old.pid), timeout=10)
        assert (run / "pid").read_text().strip() == str(old.pid)
        done = subprocess.run(
            [
                sys.executable,
                str(SERVICE),
                "start",
                "--port",
                "0",
                "--port-file",
                str(run / "port"),
                "--pidfile",
                str(run / "pid"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert "already running" not in done.stdout
        new_pid = int((run / "pid").read_text())
        assert new_pid != old.pid and _alive(new_pid)
    finally:
        old.wait(10)
        if new_pid is not None:
            os.kill(new_pid, signal.SIGKILL)

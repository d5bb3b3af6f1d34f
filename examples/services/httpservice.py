#!/usr/bin/env python3
"""A tiny HTTP service to heal: the example config watches it, and tests break it on purpose.

Standard library only, so it runs with any python3 and without root.

    httpservice.py run     --port 8080 [--pidfile F] [--port-file F] [--mode MODE] [--mode-file F]
    httpservice.py start   (same options)   detach, wait until it answers, exit 0 (1 if it died)
    httpservice.py stop    --pidfile F      SIGTERM, then SIGKILL after --timeout; ok if not running
    httpservice.py restart (start's options)
    httpservice.py mode    --port P MODE    switch a running service's mode via GET /control?mode=MODE

Modes (what GET /healthz does):
    healthy  200 {"status": "ok"}
    fail     500 {"status": "failing"}
    slow     200 after --slow-ms (default 1000): a check with degraded_over sees "degraded"
    hang     never answers while the mode stays hang (a check must time out)
    crash    the process exits with status 70 (at start too, so restarting cannot fix it)

With --mode-file, the mode lives in that file (read on every request, written by /control): a fault
that survives a restart, for "the healer cannot fix this" scenarios. The pidfile is written once the
port is bound and removed on a clean exit; `--port 0` picks a free port, written to --port-file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODES = ("healthy", "fail", "slow", "hang", "crash")
CRASH_STATUS = 70


class State:
    def __init__(self, mode: str, mode_file: Path | None, slow_ms: int) -> None:
        self._mode = mode
        self.mode_file = mode_file
        self.slow_ms = slow_ms
        self.lock = threading.Lock()

    @property
    def mode(self) -> str:
        if self.mode_file is not None:
            try:
                text = self.mode_file.read_text().strip()
                if text in MODES:
                    return text
            except OSError:
                pass
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        with self.lock:
            self._mode = value
            if self.mode_file is not None:
                tmp = self.mode_file.with_name(self.mode_file.name + ".tmp")
                tmp.write_text(value + "\n")
                os.replace(tmp, self.mode_file)


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/control":
                mode = urllib.parse.parse_qs(url.query).get("mode", [""])[0]
                if mode not in MODES:
                    self._reply(400, {"error": f"mode must be one of {list(MODES)}"})
                    return
                state.mode = mode
                self._reply(200, {"mode": mode})
                if mode == "crash":
                    self.wfile.flush()
                    os._exit(CRASH_STATUS)
                return
            if url.path != "/healthz":
                self._reply(404, {"error": "not found"})
                return
            mode = state.mode
            if mode == "crash":
                os._exit(CRASH_STATUS)
            if mode == "hang":
                while state.mode == "hang":
                    time.sleep(0.05)
                mode = state.mode
            if mode == "slow":
                time.sleep(state.slow_ms / 1000)
            if mode == "fail":
                self._reply(500, {"status": "failing", "mode": mode})
            else:
                self._reply(200, {"status": "ok", "mode": mode})

        def log_message(self, format: str, *args) -> None:  # quiet: the checks poll it all day
            pass

    return Handler


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def serve(args: argparse.Namespace) -> int:
    state = State(args.mode, Path(args.mode_file) if args.mode_file else None, args.slow_ms)
    if state.mode == "crash":
        return CRASH_STATUS
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state))
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        _write_atomic(Path(args.port_file), f"{port}\n")
    if args.pidfile:
        _write_atomic(Path(args.pidfile), f"{os.getpid()}\n")

    def stop(signum, frame) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        if args.pidfile:
            try:
                if Path(args.pidfile).read_text().strip() == str(os.getpid()):
                    os.unlink(args.pidfile)
            except OSError:
                pass
    return 0


def _running_pid(pidfile: str | None) -> int | None:
    """The pid in the pidfile if that process is alive and is this script (a stale pid may be reused).

    A process already exiting (a zombie, or one whose exit is under way) is not running: `start` used
    to answer "already running" for a service killed a moment before, exit 0, and leave nothing up."""
    if not pidfile:
        return None
    try:
        pid = int(Path(pidfile).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if _state(pid) in (None, "Z", "X", "x"):
        return None
    return pid if Path(__file__).name.encode() in cmdline else None


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _state(pid) in ("Z", "X", "x"):
            return True
        time.sleep(0.02)
    return False


def _state(pid: int) -> str | None:
    """/proc/PID/stat's state letter: the field after "(comm)", which may itself hold spaces."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return None


def start(args: argparse.Namespace, argv: list[str]) -> int:
    if _running_pid(args.pidfile):
        print(f"already running (pid {_running_pid(args.pidfile)})")
        return 0
    for stale in (args.pidfile, args.port_file):
        if stale:
            Path(stale).unlink(missing_ok=True)
    if args.log:
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)  # run/ is not in a fresh clone
    log = open(args.log, "ab") if args.log else subprocess.DEVNULL  # noqa: SIM115 - the child inherits it
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "run", *argv],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        close_fds=True,
    )
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        if child.poll() is not None:
            print(f"the service exited with status {child.returncode}", file=sys.stderr)
            return 1
        ready_file = args.port_file or args.pidfile
        if ready_file is None or Path(ready_file).exists():
            print(f"started (pid {child.pid})")
            return 0
        time.sleep(0.02)
    print(f"the service did not come up within {args.wait}s", file=sys.stderr)
    return 1


def stop_service(args: argparse.Namespace) -> int:
    pid = _running_pid(args.pidfile)
    if pid is None:
        print("not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if _running_pid(args.pidfile) != pid or not Path(f"/proc/{pid}").exists():
            print(f"stopped (pid {pid})")
            return 0
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    # Gone before returning: a `restart` that starts while the old process still holds the port and the
    # pidfile would find it "already running" and leave nothing up once it is reaped.
    if not _wait_gone(pid, 5.0):
        print(f"pid {pid} did not exit after SIGKILL", file=sys.stderr)
        return 1
    print(f"killed (pid {pid})")
    return 0


def set_mode(args: argparse.Namespace) -> int:
    url = f"http://{args.host}:{args.port}/control?mode={args.new_mode}"
    with urllib.request.urlopen(url, timeout=args.timeout) as reply:
        print(reply.read().decode())
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "start", "restart"):
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--pidfile")
        p.add_argument("--port-file")
        p.add_argument("--mode", choices=MODES, default="healthy")
        p.add_argument("--mode-file")
        p.add_argument("--slow-ms", type=int, default=1000)
        p.add_argument("--log", help="start/restart: append the service's output here")
        p.add_argument("--wait", type=float, default=5.0, help="start/restart: seconds to wait for it")
        p.add_argument("--timeout", type=float, default=5.0, help="restart: seconds before SIGKILL")
    p = sub.add_parser("stop")
    p.add_argument("--pidfile", required=True)
    p.add_argument("--timeout", type=float, default=5.0)
    p = sub.add_parser("mode")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("new_mode", choices=MODES)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.command == "run":
        return serve(args)
    if args.command == "start":
        return start(args, argv[1:])
    if args.command == "restart":
        stop_service(args)
        return start(args, argv[1:])
    if args.command == "stop":
        return stop_service(args)
    return set_mode(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

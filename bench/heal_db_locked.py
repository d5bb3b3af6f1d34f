"""Kill a service and time its restart, with and without another process holding the database (issue 16).

    .venv/bin/python bench/heal_db_locked.py --rounds 5

One real daemon heals one real local HTTP service (examples/services/httpservice.py) whose recovery is
its own start command. Each round kills the service (SIGKILL) and measures kill → the service answers
HTTP 200 again. Rounds alternate between a free database and one on which this process holds
`BEGIN EXCLUSIVE` for the whole round (the lock is released only after the service is back). Printed:
p50/max per mode and the ratio locked/free: ~1 means healing no longer waits for the database. Before
issue 16 a locked round lasted as long as the lock. The machine is shared; the figures are wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from services_kit import Service  # noqa: E402


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def query(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per mode")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="healerd-lockbench-"))
    run = tmp / "run"
    run.mkdir()
    app = Service("app", run)
    app.set_mode("healthy")  # not started here: the daemon's first recovery starts it (one owner of its pidfile)
    config = tmp / "etc"
    (config / "policies.d").mkdir(parents=True)
    for d in (config, config / "policies.d"):
        os.chmod(d, 0o755)
    (config / "healerd.toml").write_text('[daemon]\ncooldown = "100ms"\nfast_every = "100ms"\n')
    (config / "policies.d" / "app.toml").write_text(
        f'[[component]]\nname = "app"\npidfile = "{app.pidfile}"\n[component.check]\nkind = "http"\nurl = "{app.url}"\n'
        'every = "200ms"\ntimeout = "150ms"\n[component.breaker]\nconsecutive_failures = 1\nopen_for = "1s"\n'
        'max_open_for = "1s"\nhalf_open_successes = 1\n[[component.recovery]]\nstrategy = "retry"\nattempts = 1000\n'
        f'within = "1h"\nverify_within = "10s"\naction = {{ run = {json.dumps(app.argv("start"))}, timeout = "20s" }}\n'
        'backoff = { initial = "10ms", max = "10ms", jitter = "none" }\n'
    )
    for f in (config / "healerd.toml", config / "policies.d" / "app.toml"):
        os.chmod(f, 0o644)
    db = tmp / "healerd.db"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp / "notify.sock"))
    sock.settimeout(120)
    with open(tmp / "daemon.log", "wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(config), "--db", str(db), "--log-format", "json"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "NOTIFY_SOCKET": str(tmp / "notify.sock")},
            start_new_session=True,
        )
    times: dict[str, list[float]] = {"free": [], "locked": []}
    try:
        while b"READY=1" not in sock.recv(65536):
            pass
        for i in range(2 * args.rounds):
            mode = "locked" if i % 2 else "free"
            wait(
                lambda: (
                    http_ok(app.url)
                    and query(db, "SELECT count(*) FROM incidents WHERE status = 'open'") == [(0,)]
                    and query(db, "SELECT count(*) FROM recovery_events WHERE status = 'started'") == [(0,)]
                    and query(db, "SELECT state FROM breakers") == [("closed",)]
                ),
                60,
                "settled",
            )
            lock = None
            if mode == "locked":
                lock = sqlite3.connect(db, isolation_level=None, timeout=30)
                lock.execute("BEGIN EXCLUSIVE")
            pid = app.pid
            t0 = time.monotonic()
            app.crash()
            wait(lambda: app.pid not in (None, pid) and http_ok(app.url), 60, "restarted")
            times[mode].append(time.monotonic() - t0)
            if lock is not None:
                lock.execute("ROLLBACK")
                lock.close()
        figures = {
            mode: {"rounds": len(v), "p50_s": round(statistics.median(v), 3), "max_s": round(max(v), 3)}
            for mode, v in times.items()
        }
        figures["ratio_locked_to_free_p50"] = round(figures["locked"]["p50_s"] / figures["free"]["p50_s"], 2)
        figures["events"] = query(db, "SELECT status, count(*) FROM recovery_events GROUP BY status")
        print(json.dumps(figures, indent=2))
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(10)
        app.kill()


if __name__ == "__main__":
    main()

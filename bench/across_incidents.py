"""Kill a real service again and again under the real daemon; print how long it stayed down each time.

    .venv/bin/python bench/across_incidents.py               # 5 kills 2 s apart, then the old 1m cooldown as reference
    .venv/bin/python bench/across_incidents.py --kills 5 --no-reference

Issue 10's measurement: with the old flat `cooldown = "1m"` (the former default) a service killed
twice within a minute stayed down ~60 s. This runs examples/services/httpservice.py behind an http
check (every 200 ms, breaker open_for 5 s), kills it `--kills` times (each kill ≥ 2 s after the
previous one and only once it is healthy again) and prints per incident: the first action's delay
after the incident opened (the restart backoff), kill → healthy again, and kill → breaker closed.
The reference run does the same with `cooldown = "1m"` and 2 kills, in the same run, and the ratio
of the second kill's down time is printed. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "examples" / "services" / "httpservice.py"
PY = sys.executable


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def run(kills: int, cooldown: str) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="healerd-bench-"))
    etc, run_dir = tmp / "etc", tmp / "run"
    (etc / "policies.d").mkdir(parents=True)
    run_dir.mkdir()
    port = free_port()
    pidfile = run_dir / "app.pid"
    argv = [
        PY,
        str(SERVICE),
        "start",
        "--port",
        str(port),
        "--pidfile",
        str(pidfile),
        "--mode-file",
        str(run_dir / "app.mode"),
        "--log",
        str(run_dir / "app.log"),
    ]
    (etc / "healerd.toml").write_text(
        f'[daemon]\ncooldown = "{cooldown}"\nfast_every = "100ms"\nwatch_config = false\n'
    )
    import json

    (etc / "policies.d" / "app.toml").write_text(
        f'[[component]]\nname = "app"\n[component.check]\nkind = "http"\nurl = "http://127.0.0.1:{port}/healthz"\n'
        'every = "200ms"\ntimeout = "150ms"\n[component.breaker]\nconsecutive_failures = 1\nopen_for = "5s"\n'
        'half_open_successes = 1\n[[component.recovery]]\nstrategy = "retry"\nattempts = 20\nwithin = "10m"\n'
        f'action = {{ run = {json.dumps(argv)}, timeout = "20s" }}\n'
        'backoff = { initial = "1s", max = "30s", multiplier = 2.0, jitter = "full" }\n'
    )
    for p in (etc, etc / "policies.d"):
        os.chmod(p, 0o755)
    for p in (etc / "healerd.toml", etc / "policies.d" / "app.toml"):
        os.chmod(p, 0o644)
    subprocess.run(argv, check=True, timeout=30, capture_output=True)
    db = tmp / "healerd.db"
    log = open(tmp / "daemon.log", "w")  # noqa: SIM115 - the daemon inherits it
    daemon = subprocess.Popen(
        [PY, "-m", "daemon", "run", "--config", str(etc), "--db", str(db)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )

    def q(sql, params=()):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def healthy_since(t: float):
        try:
            rows = q("SELECT min(ts) FROM check_results WHERE status = 'healthy' AND ts > ?", (t,))
        except sqlite3.Error:
            return None
        return rows[0][0] if rows else None

    out = []
    try:
        wait(lambda: healthy_since(0), 30, "the first healthy check")
        last = 0.0
        for n in range(1, kills + 1):
            time.sleep(max(0.0, last + 2.0 - time.monotonic()))
            last = time.monotonic()
            pid = int(pidfile.read_text())
            killed = time.time()
            os.kill(pid, signal.SIGKILL)
            back = wait(lambda: healthy_since(killed + 0.05), 120, f"app healthy after kill {n}")
            closed = wait(
                lambda: q("SELECT min(ts) FROM breaker_transitions WHERE to_state = 'closed' AND ts > ?", (killed,))[0][
                    0
                ],
                120,
                f"breaker closed after kill {n}",
            )
            inc = wait(
                lambda: q("SELECT id, opened_at FROM incidents WHERE opened_at > ? ORDER BY id LIMIT 1", (killed,)),
                30,
                "incident",
            )
            started = q("SELECT min(started_at) FROM recovery_events WHERE incident_id = ?", (inc[0][0],))[0][0]
            out.append(
                {
                    "kill": n,
                    "first_action_delay_s": started - inc[0][1],
                    "down_s": back - killed,
                    "breaker_open_s": closed - killed,
                }
            )
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        log.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    rows = run(args.kills, "0s")
    print("restart backoff (cooldown 0s; step backoff 1s ×2 full jitter ceiling, no jitter across incidents)")
    print(f"{'kill':>4}  {'first action after open':>24}  {'kill → healthy':>15}  {'kill → breaker closed':>22}")
    for r in rows:
        print(
            f"{r['kill']:>4}  {r['first_action_delay_s']:>23.2f}s  {r['down_s']:>14.2f}s  {r['breaker_open_s']:>21.2f}s"
        )
    if args.no_reference:
        return
    ref = run(2, "1m")
    print('reference, same run: the old flat cooldown = "1m", 2 kills')
    for r in ref:
        print(
            f"{r['kill']:>4}  {r['first_action_delay_s']:>23.2f}s  {r['down_s']:>14.2f}s  {r['breaker_open_s']:>21.2f}s"
        )
    print(
        f"second kill down: {rows[1]['down_s']:.2f}s vs {ref[1]['down_s']:.2f}s with the old cooldown "
        f"(ratio {ref[1]['down_s'] / rows[1]['down_s']:.0f}x)"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

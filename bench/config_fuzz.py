"""Feed ≥ 1,000 seeded fuzzed policy files to a running daemon through hot reload (issue 16).

    .venv/bin/python bench/config_fuzz.py                       # 1,000 files, seed 16, batches of 50
    .venv/bin/python bench/config_fuzz.py --files 2000 --seed 7

The files come from tests/hardening/fuzz.py: each is valid or invalid by construction (huge and
overflowing durations, names that are not UTF-8, json_equals nested hundreds deep, inf weights, NUL
bytes, megabyte names and URLs, depends_on cycles across two files, symlinks to a shadow-like secret,
garbage, typos, bad types …). They are dropped into policies.d/ of a running daemon in batches; the
config watcher reloads. At the end the daemon must

- still be running (and stop cleanly with exit 0),
- be checking every valid component (each has check results), and
- have named every rejected file in `config_errors` (unresolved rows), with no secret in any row or in
  the log, and no problem longer than 1,000 characters.

It prints those counts and the daemon's CPU time (CPU seconds, robust on a shared machine), wall time,
RSS and reload count; the exit status is 1 if any of the three conditions fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "hardening"))
sys.path.insert(0, str(ROOT / "bench"))

from fuzz import SECRET_MARKERS, generate, materialise, shown_name  # noqa: E402
from scheduler_load import LISTENER, cpu_seconds, rss_mb  # noqa: E402


class Notify:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(65536).decode())
            except BlockingIOError:
                return self.messages

    def wait_for(self, text: str, after: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in m for m in self.drain()[after:]):
                return True
            time.sleep(0.02)
        return False


def query(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def run(files: int, seed: int, batch: int) -> int:
    corpus = generate(seed, files)
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER, "1"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    tmp = Path(tempfile.mkdtemp(prefix="healerd-fuzz-"))
    daemon = None
    try:
        port = int(listener.stdout.readline().split()[0])
        config = tmp / "etc"
        (config / "policies.d").mkdir(parents=True)
        for d in (config, config / "policies.d"):
            os.chmod(d, 0o755)
        (config / "healerd.toml").write_text('[daemon]\nreload_debounce = "200ms"\n')
        (config / "policies.d" / "base.toml").write_text(
            f'[[component]]\nname = "base"\n[component.check]\nkind = "tcp"\nport = {port}\nevery = "1s"\ntimeout = "500ms"\n'
        )
        for f in (config / "healerd.toml", config / "policies.d" / "base.toml"):
            os.chmod(f, 0o644)
        db, log_path = tmp / "healerd.db", tmp / "daemon.log"
        notify = Notify(tmp / "notify.sock")
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp / "notify.sock")}
        with open(log_path, "wb") as out:
            daemon = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daemon",
                    "run",
                    "--config",
                    str(config),
                    "--db",
                    str(db),
                    "--log-format",
                    "json",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                cwd=ROOT,
            )
        if not notify.wait_for("READY=1", 0, 120):
            print("daemon not READY within 120 s", file=sys.stderr)
            return 1
        t0, cpu0 = time.monotonic(), cpu_seconds(daemon.pid)
        hups = 0
        for start in range(0, len(corpus), batch):
            mark = len(notify.drain())
            materialise(corpus[start : start + batch], config / "policies.d", tmp / "secrets", port)
            if not notify.wait_for("RELOADING=1", mark, 10):  # the watcher missed it: say so, then signal
                hups += 1
                daemon.send_signal(signal.SIGHUP)
            reloading = (
                next(i for i, m in enumerate(notify.drain()) if i >= mark and "RELOADING=1" in m)
                if notify.wait_for("RELOADING=1", mark, 30)
                else mark
            )
            notify.wait_for("READY=1", reloading, 60)
            if daemon.poll() is not None:
                print(f"daemon exited ({daemon.returncode}) after {start + batch} files", file=sys.stderr)
                return 1
        # a last reload by signal, so the final state does not depend on the watcher's debounce
        mark = len(notify.drain())
        daemon.send_signal(signal.SIGHUP)
        notify.wait_for("READY=1", mark + 1, 60)
        fed_s = time.monotonic() - t0

        valid = {name for f in corpus if f.valid for name in f.components} | {"base"}
        rejected = {shown_name(f) for f in corpus if not f.valid}
        deadline = time.monotonic() + 90
        while True:
            checked = {
                r[0]
                for r in query(
                    db,
                    "SELECT DISTINCT c.name FROM check_results r JOIN components c "
                    "ON c.id = r.component_id WHERE c.removed_at IS NULL",
                )
            }
            named = {r[0] for r in query(db, "SELECT DISTINCT path FROM config_errors WHERE resolved_at IS NULL")}
            if (valid <= checked and rejected <= named) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        cpu_s, rss = cpu_seconds(daemon.pid) - cpu0, rss_mb(daemon.pid)
        alive = daemon.poll() is None
        rows = query(db, "SELECT path, coalesce(key, ''), message FROM config_errors")
        log_text = log_path.read_text(errors="replace")
        leaks = [m for m in SECRET_MARKERS if m in log_text or any(m in " ".join(r) for r in rows)]
        longest = max((len(" ".join(r)) for r in rows), default=0)
        reloads = sum(1 for m in notify.messages if "RELOADING=1" in m)
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(60)
        figures = {
            "files": len(corpus),
            "seed": seed,
            "batch": batch,
            "valid_files": sum(f.valid for f in corpus),
            "invalid_files": len(rejected),
            "valid_components_checked": f"{len(valid & checked)}/{len(valid)}",
            "rejected_files_named": f"{len(rejected & named)}/{len(rejected)}",
            "files_named_that_were_valid": len(named - rejected - {"policies.d/base.toml"}),
            "daemon_alive_at_end": alive,
            "exit_code_after_sigterm": code,
            "secret_leaks": leaks,
            "longest_config_error_chars": longest,
            "reloads": reloads,
            "sighups_needed_by_a_missed_watch": hups,
            "feeding_wall_s": round(fed_s, 1),
            "daemon_cpu_s": round(cpu_s, 2),
            "daemon_rss_mb": round(rss, 1),
        }
        print(json.dumps(figures, indent=2))
        missing = sorted(valid - checked)[:10], sorted(rejected - named)[:10]
        if missing != ([], []):
            print(f"not checked: {missing[0]}  not named: {missing[1]}", file=sys.stderr)
        ok = alive and code == 0 and valid <= checked and rejected <= named and not leaks and longest < 1000
        return 0 if ok else 1
    finally:
        for proc in (daemon, listener):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    sys.exit(run(args.files, args.seed, args.batch))


if __name__ == "__main__":
    main()

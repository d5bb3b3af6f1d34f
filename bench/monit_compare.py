"""CPU per check: healerd beside Monit, against the same local servers, measured in the same run.

    .venv/bin/python bench/monit_compare.py                   # 200 http and 200 tcp checks every 1 s, 30 s windows
    .venv/bin/python bench/monit_compare.py --kind http --seconds 20 --profile /tmp/prof
    .venv/bin/python bench/monit_compare.py --kind tcp --seconds 20 --windows 9    # the ratio per window, median
    .venv/bin/python bench/monit_compare.py --kind tcp --windows 9 --history-s 3600  # on an hour of history

One server process answers HTTP on some ports and accepts-and-closes TCP on others, and counts what
it served per port group: healerd and Monit each get their own group on the same server, so both
daemons run at once and each one's checks are counted by the server, not by the daemon itself.
CPU is process CPU time (utime + stime from /proc, all threads) over the measured window, so the
figures stay comparable while other work shares the machine (wall-clock rates would not).

Monit (Debian's `monit` 5.33) runs in the foreground (`-I`) on a temporary control file with its
own pid, id, state and log files, no httpd, only 127.0.0.1 targets, `set daemon 1`; it is stopped by
its pid. Each Monit check is `check host … if failed port P protocol http request … status = 200
content = "ok"` (http) or `… type tcp` (tcp); healerd's are the same (`expect_status = [200]`,
`body_contains = "ok"`) with a 1 s timeout.

`--profile DIR` also records healerd with py-spy (if installed) and prints where its samples went.

`--history-s N` starts healerd on a database that already holds N seconds of healthy results of its
components (one a second each, with their rollups), as a daemon that had been running would have left
it. Without it healerd starts on an empty database and the figures are the low end: the writer's cost
per result grows over the first minutes of history (`bench/result_index_cost.py` says why).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from scheduler_load import cpu_seconds, rss_mb, run_statistics

ROOT = Path(__file__).resolve().parents[1]
MONIT = shutil.which("monit") or "/usr/bin/monit"

#: HTTP on the first 2×H ports (H for healerd, H for Monit), accept-and-close TCP on the next 2×T.
SERVER = r"""
import json, selectors, socket, sys
H, T = int(sys.argv[1]), int(sys.argv[2])
BODY = b'{"status":"ok"}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY
sel = selectors.DefaultSelector()
groups = {}
ports = {"http": [[], []], "tcp": [[], []]}
counts = {"http": [0, 0], "tcp": [0, 0]}
def listen(kind, group):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0)); s.listen(4096); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, ("listen", kind, group)); ports[kind][group].append(s.getsockname()[1])
for group in (0, 1):
    for _ in range(H): listen("http", group)
    for _ in range(T): listen("tcp", group)
sel.register(sys.stdin, selectors.EVENT_READ, ("stdin",))
print(json.dumps(ports), flush=True)
buffers = {}
while True:
    for key, _ in sel.select():
        data = key.data
        if data[0] == "stdin":
            if not sys.stdin.readline():
                sys.exit(0)
            print(json.dumps(counts), flush=True)
        elif data[0] == "listen":
            while True:
                try:
                    c, _ = key.fileobj.accept()
                except BlockingIOError:
                    break
                if data[1] == "tcp":
                    counts["tcp"][data[2]] += 1; c.close(); continue
                c.setblocking(False); buffers[c] = b""
                sel.register(c, selectors.EVENT_READ, ("conn", data[2]))
        else:
            c = key.fileobj
            try:
                chunk = c.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(c); buffers.pop(c, None); c.close(); continue
            buf = buffers[c] + chunk
            close = False
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                counts["http"][data[1]] += 1
                try:
                    c.sendall(RESPONSE)
                except OSError:
                    close = True
                if b"connection: close" in head.lower():
                    close = True
            if close:
                sel.unregister(c); buffers.pop(c, None); c.close()
            else:
                buffers[c] = buf
"""


class Servers:
    def __init__(self, http_ports: int, tcp_ports: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(http_ports), str(tcp_ports)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.ports = json.loads(self.proc.stdout.readline())

    def counts(self) -> dict[str, list[int]]:
        self.proc.stdin.write("counts\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of `pid`, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def healerd_config(root: Path, kind: str, n: int, ports: list[int]) -> Path:
    config = root / "etc"
    (config / "policies.d").mkdir(parents=True)
    for d in (config, config / "policies.d"):
        os.chmod(d, 0o755)
    (config / "healerd.toml").write_text("[daemon]\nwatch_config = false\n")
    blocks = []
    for i in range(n):
        port = ports[i % len(ports)]
        check = (
            f'kind = "http"\nurl = "http://127.0.0.1:{port}/health"\nbody_contains = "ok"\n'
            if kind == "http"
            else f'kind = "tcp"\nport = {port}\n'
        )
        blocks.append(f'[[component]]\nname = "{kind}{i}"\n[component.check]\n{check}every = "1s"\ntimeout = "1s"\n')
    policy = config / "policies.d" / "bench.toml"
    policy.write_text("\n".join(blocks))
    for f in (config / "healerd.toml", policy):
        os.chmod(f, 0o644)
    return config


def monit_config(root: Path, kind: str, n: int, ports: list[int]) -> Path:
    lines = [
        "set daemon 1",
        f"set logfile {root}/monit.log",
        f"set pidfile {root}/monit.pid",
        f"set idfile {root}/monit.id",
        f"set statefile {root}/monit.state",
        # no `set httpd`: nothing listens; Monit is stopped by its pid
    ]
    for i in range(n):
        port = ports[i % len(ports)]
        rule = 'protocol http request "/health" status = 200 content = "ok"' if kind == "http" else "type tcp"
        lines += [
            f"check host {kind}{i} with address 127.0.0.1",
            f"  if failed port {port} {rule} timeout 1 seconds then alert",
        ]
    path = root / "monitrc"
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # Monit refuses a control file others can read
    return path


def wait_ready(sock: socket.socket) -> None:
    while b"READY=1" not in sock.recv(65536):
        pass


#: samples are grouped by the first subsystem found anywhere in their stack, in this order
SUBSYSTEMS = [
    ("writer thread (SQLite batches)", ("writer.py", "writer_batch", "writer_queue", "results_sql", "store/state.py")),
    ("http client (httpx / h11 + http_wire)", ("httpx", "httpcore", "http_wire", "h11", "checks/http.py")),
    ("tcp connect", ("checks/tcp.py",)),
    ("run_check / Monitor.run / breaker", ("checks/__init__", "monitor.py", "breaker.py", "structlog")),
    ("scheduler (APScheduler + scheduler.py)", ("apscheduler", "scheduler.py")),
    ("healer, degradation, commands (periodic)", ("healer", "degradation", "commands.py", "score.py")),
]
IDLE = ("EpollSelector.select", "Condition.wait", "_worker (concurrent")


def profile_summary(raw: Path, top: int = 15) -> list[str]:
    """py-spy --format raw: collapsed stacks `frame;frame;… count`. Shares by subsystem, then self time."""
    own: collections.Counter[str] = collections.Counter()
    groups: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].startswith(IDLE):
            continue
        total += n
        own[frames[-1]] += n
        name = next((g for g, keys in SUBSYSTEMS if any(k in f for f in frames for k in keys)), "event loop / other")
        groups[name] += n
    total = total or 1
    out = [f"  {total} non-idle samples (GIL held); by subsystem:"]
    out += [f"    {100 * c / total:5.1f}%  {g}" for g, c in groups.most_common()]
    out.append("  self time:")
    out += [f"    {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    return out


def prefill(db: Path, kind: str, n: int, ports: list[int], history_s: int) -> None:
    """`history_s` seconds of healthy results for the components `healerd_config` declares (same names,
    so the daemon adopts them), written with the writer's own statements so the rollups match."""
    sys.path.insert(0, str(ROOT))
    from daemon.store import migrate, results_sql
    from daemon.store.sqlite import connect

    migrate.upgrade(db)
    conn = connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, ?, 1, 0)",
            [(f"{kind}{i}", kind) for i in range(n)],
        )
        ids = dict(conn.execute("SELECT name, id FROM components").fetchall())
        messages = [f"connected to 127.0.0.1:{ports[i % len(ports)]}" for i in range(n)]
        start = time.time() - history_s
        for second in range(0, history_s, 60):
            results_sql.write_results(
                conn,
                [
                    (ids[f"{kind}{i}"], start + s + i / n, "healthy", 0.1, None, messages[i], 0, None, 0)
                    for s in range(second, min(second + 60, history_s))
                    for i in range(n)
                ],
            )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def start_healerd(tmp: Path, config: Path, tree: Path) -> subprocess.Popen:
    """`healerd run` from `tree` on `config` and `tmp/healerd.db`, in its own session; returns once it
    said READY=1 (killed, group and all, if it never does)."""
    notify_path = tmp / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(120)
    argv = [sys.executable, "-m", "daemon", "run", "--config", str(config), "--db", str(tmp / "healerd.db")]
    with open(tmp / "healerd.log", "wb") as out:
        daemon = subprocess.Popen(
            [*argv, "--log-format", "json", "--log-level", "info"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NOTIFY_SOCKET": str(notify_path)},
            start_new_session=True,
            cwd=tree,
        )
    try:
        wait_ready(notify)
    except BaseException:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
        raise
    finally:
        notify.close()
    return daemon


def run_kind(
    kind: str, n: int, seconds: float, warmup: float, profile: Path | None, windows: int = 1, history_s: int = 0
) -> dict:
    servers = Servers(http_ports=8 if kind == "http" else 0, tcp_ports=8 if kind == "tcp" else 0)
    tmp = Path(tempfile.mkdtemp(prefix=f"healerd-monit-{kind}-"))
    daemon = monit = spy = None
    try:
        healerd_ports, monit_ports = servers.ports[kind]
        if history_s > 0:
            prefill(tmp / "healerd.db", kind, n, healerd_ports, history_s)
        daemon = start_healerd(tmp, healerd_config(tmp, kind, n, healerd_ports), ROOT)
        monit = subprocess.Popen(
            [MONIT, "-I", "-c", str(monit_config(tmp, kind, n, monit_ports))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(warmup)  # first runs are staggered within one interval; Monit's first cycle starts
        if daemon.poll() is not None or monit.poll() is not None:
            raise RuntimeError(f"a daemon exited early (healerd {daemon.poll()}, monit {monit.poll()})")
        if profile is not None and shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}"):
            spy_bin = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
            profile.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(
                [
                    spy_bin,
                    "record",
                    "--pid",
                    str(daemon.pid),
                    "--duration",
                    str(int(seconds * windows)),
                    "--rate",
                    "1000",
                    "--format",
                    "raw",
                    "--gil",
                    "--nonblocking",
                    "--output",
                    str(profile / f"{kind}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        s0h, s0m = cpu_split(daemon.pid), cpu_split(monit.pid)
        c0, h0, m0, t0 = servers.counts(), cpu_seconds(daemon.pid), cpu_seconds(monit.pid), time.monotonic()
        # consecutive windows of `seconds` each: the ratio of each says how steady it is on a shared host
        marks = [(c0, h0, m0)]
        for _ in range(windows):
            time.sleep(seconds)
            marks.append((servers.counts(), cpu_seconds(daemon.pid), cpu_seconds(monit.pid)))
        c1, h1, m1 = marks[-1]
        t1 = time.monotonic()
        s1h, s1m = cpu_split(daemon.pid), cpu_split(monit.pid)
        rss_h, rss_m = rss_mb(daemon.pid), rss_mb(monit.pid)
        elapsed = t1 - t0
        checks_h = c1[kind][0] - c0[kind][0]
        checks_m = c1[kind][1] - c0[kind][1]
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        stats = run_statistics(tmp / "healerd.log")
        us_h = 1e6 * (h1 - h0) / max(checks_h, 1)
        us_m = 1e6 * (m1 - m0) / max(checks_m, 1)
        result = {
            "kind": kind,
            "n": n,
            "seconds": round(elapsed, 1),
            "healerd_checks_per_s": round(checks_h / elapsed, 1),
            "monit_checks_per_s": round(checks_m / elapsed, 1),
            "healerd_cpu_percent": round(100 * (h1 - h0) / elapsed, 2),
            "monit_cpu_percent": round(100 * (m1 - m0) / elapsed, 2),
            "healerd_us_per_check": round(us_h),
            "monit_us_per_check": round(us_m),
            "ratio": round(us_h / us_m, 2) if us_m else None,
            # user / system µs per check: the kernel's share (socket set-up and teardown) is common work
            "healerd_user_sys_us": [round(1e6 * (s1h[i] - s0h[i]) / max(checks_h, 1)) for i in (0, 1)],
            "monit_user_sys_us": [round(1e6 * (s1m[i] - s0m[i]) / max(checks_m, 1)) for i in (0, 1)],
            "healerd_rss_mb": round(rss_h, 1),
            "monit_rss_mb": round(rss_m, 1),
            "window_ratios": [
                round(
                    (hb - ha) / max(cb[kind][0] - ca[kind][0], 1) / ((mb - ma) / max(cb[kind][1] - ca[kind][1], 1)), 2
                )
                if mb > ma
                else None
                for (ca, ha, ma), (cb, hb, mb) in itertools.pairwise(marks)
            ],
            "healerd_missed": stats.get("missed_runs"),
            "writer_batches": (stats.get("writer") or {}).get("batches"),
            "writer_written": (stats.get("writer") or {}).get("written"),
        }
        if spy is not None:
            spy.wait(seconds * windows + 30)
            raw = profile / f"{kind}.txt"
            if raw.exists():
                result["profile"] = profile_summary(raw)
        return result
    finally:
        for proc in (spy, monit, daemon):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        servers.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", action="append", choices=["http", "tcp"], help="check kind (repeatable)")
    parser.add_argument("--n", type=int, default=200, help="checks per daemon, every 1 s")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--profile", type=Path, help="record healerd with py-spy into this directory")
    parser.add_argument(
        "--windows", type=int, default=1, help="measure this many consecutive windows of --seconds; print each ratio"
    )
    parser.add_argument(
        "--history-s", type=int, default=0, help="start healerd on a database holding this much history (seconds)"
    )
    args = parser.parse_args()
    if not Path(MONIT).exists():
        sys.exit("monit is not installed (Debian: apt-get install monit)")
    print("CPU time per check (utime+stime over the window / checks the server saw); the machine may be shared")
    print("reference (semantics.md): Monit 5.33, 200 http checks at 1 s: 130–160 µs per check, ~8 MB")
    header = (
        "kind",
        "n",
        "healerd checks/s",
        "monit checks/s",
        "healerd µs/check",
        "monit µs/check",
        "ratio",
        "healerd cpu %",
        "monit cpu %",
        "healerd RSS MB",
        "monit RSS MB",
        "writer batches/results",
    )
    print(" | ".join(header))
    for kind in args.kind or ["http", "tcp"]:
        r = run_kind(kind, args.n, args.seconds, args.warmup, args.profile, args.windows, args.history_s)
        print(
            " | ".join(
                str(x)
                for x in (
                    r["kind"],
                    r["n"],
                    r["healerd_checks_per_s"],
                    r["monit_checks_per_s"],
                    r["healerd_us_per_check"],
                    r["monit_us_per_check"],
                    f"{r['ratio']}×",
                    r["healerd_cpu_percent"],
                    r["monit_cpu_percent"],
                    r["healerd_rss_mb"],
                    r["monit_rss_mb"],
                    f"{r['writer_batches']}/{r['writer_written']}",
                )
            ),
            flush=True,
        )
        if len(r["window_ratios"]) > 1:
            ratios = sorted(x for x in r["window_ratios"] if x is not None)
            if ratios:
                print(
                    f"  {kind}: ratio per {args.seconds:g} s window {r['window_ratios']}; "
                    f"median {ratios[len(ratios) // 2]}×, range {ratios[0]}–{ratios[-1]}×",
                    flush=True,
                )
        for line in r.pop("profile", []):
            print(line)
        print("  " + json.dumps(r), flush=True)


if __name__ == "__main__":
    main()

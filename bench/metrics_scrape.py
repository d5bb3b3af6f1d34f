"""CPU cost of scraping `/metrics` from the real daemon at 10,000 components, as a share of one core.

    .venv/bin/python bench/metrics_scrape.py                  # 10,000 components, 20 scrapes
    .venv/bin/python bench/metrics_scrape.py --n 1000 --scrapes 10

The daemon runs in a subprocess on N `file` components (cheap checks of one existing file, every
`--every`: 1 h by default, so the daemon is otherwise quiet; `--every 10s` adds the 1,000 checks/s
load, whose CPU is subtracted as the idle baseline), with `[http]` on. After every
component has a result, it measures the daemon's own CPU time (utime + stime from /proc, so other work
on a shared machine does not count) over an idle window, then over back-to-back scrapes; the CPU a
scrape costs is the difference, and the goal is that a 15 s scrape interval costs ≤ 2 % of a core.

Printed: the daemon's CPU per scrape (a component's state lines are formatted again only when its
state changed: see service/web/metrics.py Renderer), the cost of formatting every component's lines
(the first scrape after start, or all 10,000 changing state at once; measured in this process on the
same number of components), and the share if every scrape paid it; the response
size and series count, and a reference measured in the same run: the CPU of reading the
`current_system_status` view for the same database with plain sqlite3 (what `healerd status` reads).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def write_config(root: Path, n: int, every: str) -> None:
    (root / "policies.d").mkdir(parents=True)
    target = root / "target.txt"
    target.write_text("ok\n")
    blocks = [
        f'[[component]]\nname = "c{i:05d}"\n[component.check]\nkind = "file"\npath = "{target}"\n'
        f'every = "{every}"\ntimeout = "1s"\n'
        for i in range(n)
    ]
    (root / "policies.d" / "bench.toml").write_text("\n".join(blocks))
    (root / "healerd.toml").write_text(
        '[daemon]\nwatch_config = false\n[http]\nenabled = true\nport = 0\nrequest_timeout = "30s"\n'
    )
    for p in [root, root / "policies.d", *root.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def cold_render_cpu(n: int) -> float:
    """CPU of formatting a snapshot of n components from scratch (no reuse), in this process."""
    sys.path.insert(0, str(ROOT))
    from daemon.service.web.metrics import Snapshot, render

    snap = Snapshot(
        now=time.time(),
        components=[(f"c{i:05d}", "healthy", 0) for i in range(n)],
        checks={f"c{i:05d}": 100 for i in range(n)},
        db={"incidents": set()},
    )
    start = time.process_time()
    render(snap)
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    # 1h: every component is checked once (staggered over the first 10 s), then the daemon is quiet,
    # so the CPU a scrape costs is not buried in the noise of 1,000 checks/s (--every 10s shows that)
    ap.add_argument("--every", default="1h")
    ap.add_argument("--scrapes", type=int, default=20)
    ap.add_argument("--idle", type=float, default=15.0, help="seconds of idle baseline")
    ap.add_argument("--interval", type=float, default=15.0, help="the scrape interval the share is computed for")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="healerd-metrics-bench-"))
    os.chmod(tmp, 0o755)
    write_config(tmp / "etc", args.n, args.every)
    db, log = tmp / "healerd.db", tmp / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daemon",
                "run",
                "--config",
                str(tmp / "etc"),
                "--db",
                str(db),
                "--log-format",
                "json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    try:

        def url():
            for line in log.read_text().splitlines():
                if '"http listening"' in line:
                    return json.loads(line)["url"]
            if proc.poll() is not None:
                raise SystemExit(f"daemon exited {proc.returncode}:\n{log.read_text()[-2000:]}")
            return None

        base = wait(url, 300, "the daemon to listen")
        client = httpx.Client(timeout=60, trust_env=False)

        def all_checked():
            text = client.get(base + "/metrics").text
            return text.count("healerd_component_state{") and text.count('state="healthy"} 1.0') >= args.n

        wait(all_checked, 600, f"all {args.n} components to be checked")

        t0, c0 = time.monotonic(), cpu_seconds(proc.pid)
        time.sleep(args.idle)
        idle_rate = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)

        costs, raws, sizes, walls = [], [], [], []  # the wait above already formatted the state lines once
        for _ in range(args.scrapes):
            t, c = time.monotonic(), cpu_seconds(proc.pid)
            response = client.get(base + "/metrics")
            wall = time.monotonic() - t
            # CPU the daemon would have spent anyway in that time (its checks) is not the scrape's
            raws.append(cpu_seconds(proc.pid) - c)
            costs.append(max(0.0, raws[-1] - idle_rate * wall))
            sizes.append(len(response.content))
            walls.append(wall)
            time.sleep(0.5)  # let the next measurement start clean (clock-tick granularity is 10 ms)
        series = sum(1 for line in response.text.splitlines() if line and not line.startswith("#"))

        cold = cold_render_cpu(args.n)
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        r0 = time.process_time()
        rows = conn.execute("SELECT * FROM current_system_status").fetchall()
        ref = time.process_time() - r0
        conn.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    steady = statistics.median(costs[1:]) if len(costs) > 1 else costs[0]
    print(f"components: {args.n}, checks every {args.every}; daemon idle CPU {idle_rate * 100:.1f}% of a core")
    print(f"/metrics: {sizes[-1] / 1e6:.2f} MB, {series} series; wall p50 {statistics.median(walls) * 1000:.0f} ms")
    print(
        f"daemon CPU per scrape: median {steady * 1000:.0f} ms, max {max(costs) * 1000:.0f} ms "
        f"(no component changed state between scrapes); without subtracting the idle baseline: median "
        f"{statistics.median(raws) * 1000:.0f} ms = {statistics.median(raws) / args.interval * 100:.2f}% of a core every "
        f"{args.interval:g} s (upper bound)"
    )
    worst = steady + cold
    print(
        f"formatting all {args.n} components' state lines (first scrape, or all change at once), in-process: "
        f"{cold * 1000:.0f} ms"
    )
    print(
        f"scraped every {args.interval:g} s: {steady / args.interval * 100:.2f}% of a core  [goal ≤ 2%]; "
        f"if every scrape also found all {args.n} components changed: {worst / args.interval * 100:.2f}%"
    )
    print(
        f"reference, same run: reading current_system_status ({len(rows)} rows) with sqlite3: {ref * 1000:.0f} ms CPU; "
        f"steady scrape = {steady / ref:.1f}× that"
        if ref > 0
        else "reference: too fast to measure"
    )


if __name__ == "__main__":
    main()

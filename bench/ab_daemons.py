"""Two healerd daemons side by side, 200 tcp checks every 1 s each against the same server: CPU per check.

    .venv/bin/python bench/ab_daemons.py --a /path/to/old/checkout --b .              # two code versions
    .venv/bin/python bench/ab_daemons.py --a-history-s 3600 --b-history-s 3600 --b-drop-component-index

Why: on a shared 2-core machine a figure from one run and a figure from another differ by ±10 % for
no reason in the code; two daemons measured in the same windows share whatever the machine does.
Each side runs `python -m daemon run` from its tree (`--a`/`--b`, the checkout whose `daemon` package
is imported), on a database of its own that may already hold N seconds of history
(`bench/monit_compare.py --history-s`); `--b-drop-component-index` drops
`ix_check_results_component_id_ts` on B's database before it starts (what it costs the whole daemon).
The server counts each side's checks; CPU is utime+stime from /proc over each window. Prints each
window's figures and B/A, then the means and the median ratio. Same tree on both sides (A/A) shows
the harness's own spread.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monit_compare import ROOT, Servers, cpu_split, healerd_config, prefill, start_healerd

N = 200


def start(servers: Servers, tree: Path, group: int, history_s: int, drop_index: bool) -> subprocess.Popen:
    tmp = Path(tempfile.mkdtemp(prefix="healerd-ab-"))
    ports = servers.ports["tcp"][group]
    db = tmp / "healerd.db"
    if history_s > 0:
        prefill(db, "tcp", N, ports, history_s)
    if drop_index:
        if history_s <= 0:
            sys.exit("--b-drop-component-index needs --b-history-s (the daemon creates an empty database itself)")
        conn = sqlite3.connect(db)
        conn.execute("DROP INDEX ix_check_results_component_id_ts")
        conn.commit()
        conn.close()
    return start_healerd(tmp, healerd_config(tmp, "tcp", N, ports), tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, default=ROOT, help="tree of daemon A (default: this checkout)")
    parser.add_argument("--b", type=Path, default=ROOT, help="tree of daemon B (default: this checkout)")
    parser.add_argument("--a-history-s", type=int, default=0)
    parser.add_argument("--b-history-s", type=int, default=0)
    parser.add_argument("--b-drop-component-index", action="store_true")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    args = parser.parse_args()
    servers = Servers(http_ports=0, tcp_ports=8)
    daemons: list[subprocess.Popen] = []
    try:
        daemons.append(start(servers, args.a.resolve(), 0, args.a_history_s, False))
        daemons.append(start(servers, args.b.resolve(), 1, args.b_history_s, args.b_drop_component_index))
        a, b = daemons
        time.sleep(args.warmup)
        ratios, sums = [], [0.0, 0.0]
        for w in range(args.windows):
            ca, cb, k0 = sum(cpu_split(a.pid)), sum(cpu_split(b.pid)), servers.counts()["tcp"]
            time.sleep(args.seconds)
            da, db_, k1 = sum(cpu_split(a.pid)) - ca, sum(cpu_split(b.pid)) - cb, servers.counts()["tcp"]
            ua, ub = da / (k1[0] - k0[0]) * 1e6, db_ / (k1[1] - k0[1]) * 1e6
            ratios.append(ub / ua)
            sums[0] += ua
            sums[1] += ub
            print(f"window {w}: A {ua:6.1f} µs  B {ub:6.1f} µs per check  B/A {ub / ua:.3f}", flush=True)
        print(
            f"mean A {sums[0] / args.windows:.1f} µs, B {sums[1] / args.windows:.1f} µs per check; "
            f"median B/A {statistics.median(ratios):.3f} (windows {min(ratios):.3f}–{max(ratios):.3f})"
        )
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(10)
        servers.close()


if __name__ == "__main__":
    main()

"""Replay speed: recorded results through a policy set (`healerd replay`), against raw sqlite3 iteration.

The goal in issue 15 is 7 days × 1,000 components at 10 s (60 M results) in under 60 s, streaming, in
bounded memory. This builds a migrated database of N components × D at one result per 10 s (each
component has one 5-minute outage a day, so breakers open, incidents open, ladders act and escalate),
then measures, in the same run:

- reference: iterating the same rows in the same order with raw sqlite3 (nothing done per row);
- replay: `daemon.cli.replay.replay_db` — the daemon's breaker, decide() and ladder per result.

CPU time (process_time) is the figure to read on a shared machine; wall time is printed too. The
extrapolation to 60 M results is linear (the replay streams; memory does not grow with the results).

    .venv/bin/python bench/replay.py [--components 200] [--days 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.cli.replay import load_policies, replay_db  # noqa: E402
from daemon.store import migrate  # noqa: E402
from daemon.store import sqlite as store_sqlite  # noqa: E402

EVERY = 10.0
OUTAGE_S = 300.0
START = 1_800_000_000.0
GOAL_RESULTS = 7 * 86400 / EVERY * 1000


def make_db(path: Path, components: int, days: float) -> int:
    migrate.upgrade(path)
    conn = store_sqlite.connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, 'tcp', 10, 0)",
                     [(f"c{i}",) for i in range(components)])
    ids = [r[0] for r in conn.execute("SELECT id FROM components ORDER BY id")]
    conn.execute("COMMIT")
    steps = int(days * 86400 / EVERY)
    outage_every = int(86400 / EVERY)
    outage_len = int(OUTAGE_S / EVERY)
    total = 0
    batch: list[tuple] = []
    conn.execute("BEGIN IMMEDIATE")
    for k in range(steps):
        ts0 = START + k * EVERY
        for i, cid in enumerate(ids):
            # each component's daily outage starts at its own offset in the day
            phase = (k + i * 37) % outage_every
            down = phase < outage_len
            batch.append((cid, ts0 + i * EVERY / components, "unhealthy" if down else "healthy",
                          "refused" if down else None, 1.0))
        if len(batch) >= 50_000:
            conn.executemany("INSERT INTO check_results (component_id, ts, status, error_class, latency_ms) "
                             "VALUES (?, ?, ?, ?, ?)", batch)
            total += len(batch)
            batch.clear()
    if batch:
        conn.executemany("INSERT INTO check_results (component_id, ts, status, error_class, latency_ms) "
                         "VALUES (?, ?, ?, ?, ?)", batch)
        total += len(batch)
    conn.execute("COMMIT")
    conn.close()
    return total


def write_config(root: Path, components: int) -> Path:
    (root / "policies.d").mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chmod(root / "policies.d", 0o755)
    settings = root / "healerd.toml"
    settings.write_text('[notify.ops]\nkind = "log"\n')
    parts = []
    for i in range(components):
        parts.append(f'[[component]]\nname = "c{i}"\n[component.check]\nkind = "tcp"\nport = 9\nevery = "10s"\n'
                     '[[component.recovery]]\nstrategy = "retry"\nattempts = 3\nwithin = "10m"\n'
                     'action = { run = ["true"] }\nbackoff = { initial = "10s", max = "60s", jitter = "none" }\n'
                     '[[component.recovery]]\nstrategy = "escalate"\nnotify = ["ops"]\nrepeat_every = "1h"\n')
    policy = root / "policies.d" / "fleet.toml"
    policy.write_text("\n".join(parts))
    for f in (settings, policy):
        os.chmod(f, 0o644)
    return root


def raw_iteration(db: Path) -> tuple[int, float, float]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    c0, w0 = time.process_time(), time.perf_counter()
    n = 0
    for _ in conn.execute("SELECT component_id, ts, status, error_class, maintenance FROM check_results "
                          "WHERE ts >= ? AND ts < ? ORDER BY ts, id", (0, 1e12)):
        n += 1
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    conn.close()
    return n, cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--components", type=int, default=200)
    parser.add_argument("--days", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="healerd-bench-replay-") as tmp:
        tmp_path = Path(tmp)
        db = tmp_path / "history.db"
        t0 = time.perf_counter()
        total = make_db(db, args.components, args.days)
        print(f"built {total:,} results ({args.components} components × {args.days:g} d at 10 s) "
              f"in {time.perf_counter() - t0:.1f}s")
        config = load_policies(write_config(tmp_path / "etc", args.components))
        n, raw_cpu, raw_wall = raw_iteration(db)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn = store_sqlite.connect(db, readonly=True)
        c0, w0 = time.process_time(), time.perf_counter()
        first, last = conn.execute("SELECT min(ts), max(ts) FROM check_results").fetchone()
        summary = replay_db(config, conn, first, last + 1e-3)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        conn.close()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        incidents = sum(c["replayed"]["incidents"] for c in summary["components"].values())
        actions = sum(sum(c["replayed"]["actions"].values()) for c in summary["components"].values())
        assert summary["results"] == n == total, (summary["results"], n, total)
        rate, raw_rate = n / cpu, n / raw_cpu
        print(f"raw sqlite3 iteration: {raw_rate:>12,.0f} results/s CPU ({raw_cpu:.2f}s CPU, {raw_wall:.2f}s wall)")
        print(f"replay:                {rate:>12,.0f} results/s CPU ({cpu:.2f}s CPU, {wall:.2f}s wall); "
              f"ratio to raw {rate / raw_rate:.3f}")
        print(f"replayed {incidents:,} incidents, {actions:,} actions; peak RSS {rss0 / 1024:.0f} MB before the "
              f"replay, {rss1 / 1024:.0f} MB after")
        print(f"goal: {GOAL_RESULTS / 1e6:.1f} M results in < 60 s; at this rate: {GOAL_RESULTS / rate:,.0f} s CPU "
              f"(raw iteration alone: {GOAL_RESULTS / raw_rate:,.0f} s)")
        print("note: measured on a machine shared with other engineers' test runs (2 cores); read the CPU figures")


if __name__ == "__main__":
    main()

"""Two healerd checkouts side by side: the same read commands, run alternately, so both see the same load.

bench/cli_startup.py times one checkout; on a shared machine its figures move by tens of percent from one
run to the next, which hides a change of a few milliseconds. This one runs each command from checkout A
and from checkout B in turn (A, B, A, B, ...), each as a fresh process with .pyc files (as an installed
healerd has them), and prints the median wall and CPU time of each and the ratio B/A.

A checkout is a source tree (its `daemon` package is put first on PYTHONPATH) and the database it reads:
an older checkout needs the database at its own head, e.g. a copy downgraded with `healerd migrate`.

Usage: .venv/bin/python bench/cli_ab.py --a-src /tmp/base --a-db /tmp/at_0009.db \
           --b-src . --b-db bench/.cache/views.db [--runs 9] [--view NAME ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

_ENTRY = "import sys; from daemon.cli.main import main; sys.argv[0] = 'healerd'; main()"


def run_once(src: Path, args: list[str]) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["PYTHONPATH"] = str(src.resolve())
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _ENTRY, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd="/",  # not a checkout: `-c` puts the working directory first on sys.path
        start_new_session=True,
    )
    wall = (time.perf_counter() - t) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{src} {' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return wall, ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a-src", type=Path, required=True)
    ap.add_argument("--a-db", type=Path, required=True)
    ap.add_argument("--b-src", type=Path, required=True)
    ap.add_argument("--b-db", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument(
        "--view",
        action="append",
        help="a view for `healerd report` (repeatable); default: the three availability views",
    )
    args = ap.parse_args()
    args.a_src, args.a_db, args.b_src, args.b_db = (p.resolve() for p in (args.a_src, args.a_db, args.b_src, args.b_db))
    views = args.view or [f"component_availability_{w}" for w in ("24h", "7d", "30d")]
    commands = [["report", v] for v in views] + [["status"], ["report", "current_system_status"]]
    print(f"A = {args.a_src} on {args.a_db}\nB = {args.b_src} on {args.b_db}\n{args.runs} alternate runs each, median")
    print(f"  {'command':42s} {'A wall':>8s} {'B wall':>8s} {'A CPU':>8s} {'B CPU':>8s}  B/A (wall, CPU)")
    for command in commands:
        sides = {"A": (args.a_src, args.a_db), "B": (args.b_src, args.b_db)}
        for src, db in sides.values():
            run_once(src, [*command, "--db", str(db)])  # warm: page cache, .pyc files
        walls: dict[str, list[float]] = {k: [] for k in sides}
        cpus: dict[str, list[float]] = {k: [] for k in sides}
        for _ in range(args.runs):
            for key, (src, db) in sides.items():
                wall, cpu = run_once(src, [*command, "--db", str(db)])
                walls[key].append(wall)
                cpus[key].append(cpu)
        w = {k: statistics.median(v) for k, v in walls.items()}
        c = {k: statistics.median(v) for k, v in cpus.items()}
        print(
            f"  healerd {' '.join(command):34s} {w['A']:8.1f} {w['B']:8.1f} {c['A']:8.1f} {c['B']:8.1f}  "
            f"{w['B'] / w['A']:.2f}, {c['B'] / c['A']:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""How long `healerd report VIEW` and `healerd status` take, start to exit, on the year-of-history database.

Goal (issue 11): ≤ 200 ms wall, for every view in the file and for `status`. Each command runs
`--runs` times as a fresh process (the console script of this venv); the figures are the median wall
time and the median CPU time of the child (user + sys, from getrusage), the robust one on a shared
machine. References in the same run: before each view, the same `SELECT * FROM view` from a bare
`python -c` with only sqlite3 (the floor for a Python CLI; the ratio is printed beside the view), the
interpreter alone (`python -c pass`), and importing the libraries a read verb no longer loads
(SQLAlchemy, Alembic, APScheduler, httpx).
Children run with bytecode (.pyc), as an installed healerd does (see CHILD_ENV).
Then `python -X importtime` of `healerd report current_system_status`: the biggest imports, with their
cumulative microseconds, as evidence of what start-up spends its time on.

Usage: .venv/bin/python bench/cli_startup.py --build [--runs 7] [--view NAME ...]
(--build makes or tops up bench/.cache/views.db, issue 11's 1,000 components × 7 days of raw results ×
400 days of rollups, through bench/views_db.py; any migrated database works with --db, an empty one too)
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

GOAL_MS = 200.0
BIN = Path(sys.executable).parent


#: The children run as an installed healerd does: with bytecode. pip compiles the .pyc files of a
#: wheel when it installs it; an editable checkout gets them on its first run, unless
#: PYTHONDONTWRITEBYTECODE is set (as in some CI and sandbox images), and then every run compiles every
#: healerd module again (~20-30 ms here). The warm-up run of each command writes them.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(argv: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, start_new_session=True, env=CHILD_ENV)
    wall = (time.perf_counter() - t) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    return wall, cpu, proc


def measure(label: str, argv: list[str], runs: int, goal: bool, reference: float | None = None) -> float | None:
    """Print the median wall and CPU ms of `runs` fresh runs (after one warm-up); returns the wall."""
    run_once(argv)  # warm the page cache and the .pyc files
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu, proc = run_once(argv)
        if proc.returncode != 0:
            print(f"  {label}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
            return None
        walls.append(wall)
        cpus.append(cpu)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    verdict = ("ok" if wall <= GOAL_MS else "OVER") if goal else "reference"
    if reference:
        verdict += f"  {wall / reference:4.1f}× the sqlite3-only run ({reference:.1f} ms)"
    print(f"  {label:58s} {wall:8.1f} {cpu:8.1f}  {verdict}", flush=True)
    return wall


def sqlite3_only(uri: str, sql: str) -> list[str]:
    """The floor for a Python CLI answering the same query: the interpreter, sqlite3, the SELECT."""
    return [sys.executable, "-c", f"import sqlite3; sqlite3.connect({uri!r}, uri=True).execute({sql!r}).fetchall()"]


def views_of(db: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(db.absolute().as_uri() + "?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")]
    finally:
        conn.close()


def importtime(argv: list[str], top: int) -> None:
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, start_new_session=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if not name.startswith("  "):  # top-level imports only (nested ones are inside these)
            rows.append((int(cumulative), name.strip()))
    total = sum(c for c, _ in rows)
    print(
        f"\n-X importtime of {' '.join(Path(a).name if i == 0 else a for i, a in enumerate(argv[:3]))}: "
        f"{len(rows)} top-level imports, {total / 1000:.1f} ms in all; the biggest:"
    )
    for cumulative, name in sorted(rows, reverse=True)[:top]:
        print(f"  {cumulative / 1000:8.1f} ms  {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, default=Path(__file__).resolve().parent / ".cache" / "views.db")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--view", action="append", help="only this view (repeatable); default: every view in the file")
    ap.add_argument(
        "--build",
        action="store_true",
        help="build or top up the 1,000 components × 7 d raw × 400 d rollups database first "
        "(bench/views_db.py; ~5 min the first time)",
    )
    args = ap.parse_args()
    if args.build:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        import views_db

        views_db.ensure(args.db, views_db.Shape())
    if not args.db.exists():
        sys.exit(f"{args.db} does not exist: pass --build (or run bench/views.py first, or pass --db)")
    db = str(args.db)
    healerd = str(BIN / "healerd")
    py = sys.executable
    uri = args.db.absolute().as_uri() + "?mode=ro"
    print(f"database {db} ({args.db.stat().st_size / 1e9:.2f} GB); {args.runs} runs each, median")
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        print("  (PYTHONDONTWRITEBYTECODE is set here; unset for the children, so they run from .pyc files)")
    print(f"  {'command':58s} {'wall ms':>8s} {'CPU ms':>8s}  goal ≤ {GOAL_MS:.0f} ms wall")
    over = []
    for view in args.view or views_of(args.db):
        # the same SELECT from a bare interpreter first, so each view's ratio is to its own floor
        floor = measure(
            f"  (python + sqlite3: SELECT * FROM {view})", sqlite3_only(uri, f"SELECT * FROM {view}"), args.runs, False
        )
        wall = measure(f"healerd report {view}", [healerd, "report", view, "--db", db], args.runs, True, floor)
        if wall is not None and wall > GOAL_MS:
            over.append(view)
    floor = measure(
        "  (python + sqlite3: SELECT * FROM current_system_status)",
        sqlite3_only(uri, "SELECT * FROM current_system_status"),
        args.runs,
        False,
    )
    wall = measure("healerd status", [healerd, "status", "--db", db], args.runs, True, floor)
    if wall is not None and wall > GOAL_MS:
        over.append("status")
    measure("healerd report --list", [healerd, "report", "--list", "--db", db], args.runs, True)
    print("references, same run")
    measure("python -c pass (the interpreter alone)", [py, "-c", "pass"], args.runs, False)
    measure(
        "python + sqlite3: SELECT * FROM current_system_status",
        [
            py,
            "-c",
            f"import sqlite3; sqlite3.connect({uri!r}, uri=True)"
            ".execute('SELECT * FROM current_system_status').fetchall()",
        ],
        args.runs,
        False,
    )
    measure(
        "python -c 'import sqlalchemy, alembic.command, apscheduler, httpx'",
        [py, "-c", "import sqlalchemy, alembic.command, apscheduler.schedulers.asyncio, httpx"],
        args.runs,
        False,
    )
    measure("healerd --help (imports every verb)", [healerd, "--help"], args.runs, False)
    importtime([healerd, "report", "current_system_status", "--db", db], 10)
    print(f"\nover {GOAL_MS:.0f} ms wall: {', '.join(over) if over else 'none'}")


if __name__ == "__main__":
    main()

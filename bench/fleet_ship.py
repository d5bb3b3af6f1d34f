"""Fleet shipping: rows/s the shipper pushes into PostgreSQL, against raw COPY into the same table, and
the lag at 1,000 components per host.

    .venv/bin/python bench/fleet_ship.py [--rows 100000] [--batch 2000] [--hosts 4] [--lag-seconds 30]

Starts its own throwaway PostgreSQL (tests/pgcluster.py: temp dir, free port, stopped by pid). Figures:

1. backlog: one host's DB holds `--rows` check results of 1,000 components; the real TableShipper
   (service/fleet_ship.py: read past the mark, INSERT … ON CONFLICT (host, id), commit, save the mark)
   ships them all. Reference, same run, same table: `COPY check_results FROM STDIN` of the same rows
   under another host name — the fastest way in, with no conflict handling and no marks.
2. centre absorption: `--hosts` shipper processes at once, each with its own DB and host name, as the
   centre sees a fleet (the goal: 100 hosts × 1,000 components at 10 s = 10,000 rows/s).
3. lag: a producer writes 1,000 components' results at 10 s (100 rows/s, the daemon's writer does the
   same) while the shipper runs a round every `--every` s; lag = age of the oldest unshipped row,
   sampled just before each round (its worst moment) — p50 and max.

CPU seconds of the client are printed beside wall time: the machine may be shared, and CPU time is the
steadier figure. The server's work is in the wall time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import pgcluster  # noqa: E402

from daemon.service.fleet_ship import TableShipper  # noqa: E402
from daemon.store import fleet_central, fleet_migrate, fleet_sql, migrate  # noqa: E402
from daemon.store.fleet_models import SHIPPED  # noqa: E402

COMPONENTS = 1000


def make_db(path: Path, rows: int, template: Path) -> None:
    shutil.copyfile(template, path)
    conn = sqlite3.connect(path, isolation_level=None)
    now = time.time()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO components (id, name, check_kind, every_s, loaded_at) VALUES (?, ?, 'tcp', 10, ?)",
        [(i + 1, f"c{i:04d}", now) for i in range(COMPONENTS)],
    )
    conn.executemany(
        "INSERT INTO check_results (component_id, ts, status, latency_ms, error_class, message, injected) "
        "VALUES (?, ?, ?, ?, NULL, NULL, 0)",
        [
            (i % COMPONENTS + 1, now - rows / 100 + i / 100, "healthy" if i % 50 else "unhealthy", 1.0 + i % 7)
            for i in range(rows)
        ],
    )
    conn.execute("COMMIT")
    conn.close()


def shipper_for(db: Path, host: str, batch: int) -> tuple[TableShipper, sqlite3.Connection]:
    marks = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=30)

    def save_mark(table, shipped_id, open_from, rows):
        fleet_sql.save_mark(marks, table, shipped_id, open_from, rows, time.time())

    return TableShipper(host, batch, save_mark, threading.Event()), marks


def ship_all(url: str, password_file: str, db: Path, host: str, batch: int) -> tuple[int, float, float, float, float]:
    """(rows, wall s, client CPU s, started, ended): the last two wall-clock, to overlap processes."""
    engine = fleet_central.make_engine(url, password_file)
    shipper, marks = shipper_for(db, host, batch)
    local = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    started = time.time()
    wall, cpu = time.perf_counter(), time.process_time()
    with engine.connect() as pg:
        spec = next(s for s in SHIPPED if s.table == "check_results")
        shipper.table(local, pg, next(s for s in SHIPPED if s.table == "components"), fleet_sql.Mark())
        n = shipper.table(local, pg, spec, fleet_sql.Mark())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    local.close()
    marks.close()
    return n, wall, cpu, started, started + wall


def copy_reference(url: str, password_file: str, db: Path, host: str) -> tuple[int, float]:
    engine = fleet_central.make_engine(url, password_file)
    local = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = local.execute(
        "SELECT id, component_id, ts, status, latency_ms, error_class, message, injected FROM check_results"
    ).fetchall()
    wall = time.perf_counter()
    raw = engine.raw_connection()
    try:
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY check_results (host, id, component_id, ts, status, latency_ms, error_class, message, injected) FROM STDIN"
            ) as copy,
        ):
            for r in rows:
                copy.write_row((host, *r[:7], bool(r[7])))
        raw.commit()
    finally:
        raw.close()
    wall = time.perf_counter() - wall
    engine.dispose()
    return len(rows), wall


def _ship_process(args) -> tuple[int, float, float, float, float]:
    url, password_file, db, host, batch = args
    return ship_all(url, password_file, Path(db), host, batch)


def lag_run(url: str, password_file: str, db: Path, seconds: float, every: float, batch: int) -> list[float]:
    """Producer at 100 rows/s (1,000 components at 10 s); shipper round every `every` s; lag samples."""
    stop = threading.Event()
    start_id = sqlite3.connect(db).execute("SELECT max(id) FROM check_results").fetchone()[0]

    def produce():
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        i = 0
        while not stop.is_set():
            now = time.time()
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO check_results (component_id, ts, status, latency_ms, injected) "
                "VALUES (?, ?, 'healthy', 1.0, 0)",
                [((i + k) % COMPONENTS + 1, now) for k in range(10)],
            )
            conn.execute("COMMIT")
            i += 10
            stop.wait(0.1)  # 10 rows per 100 ms = 100 rows/s, the writer's group commit cadence
        conn.close()

    engine = fleet_central.make_engine(url, password_file)
    shipper, marks = shipper_for(db, "lag-host", batch)
    fleet_sql.save_mark(marks, "check_results", start_id, None, 0, time.time())
    producer = threading.Thread(target=produce)
    producer.start()
    samples = []
    deadline = time.monotonic() + seconds
    try:
        with engine.connect() as pg:
            while time.monotonic() < deadline:
                stop.wait(every)
                local = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                samples.append(fleet_sql.lag(local, time.time()))
                shipper.round(local, pg)
                local.close()
    finally:
        stop.set()
        producer.join()
        engine.dispose()
        marks.close()
    return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--lag-seconds", type=float, default=30)
    ap.add_argument("--every", type=float, default=5.0)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="healerd-bench-fleet-"))
    cluster = pgcluster.create(Path(tempfile.mkdtemp(prefix="healerd-bench-pg-")))  # postgres must reach it
    try:
        url, pw = cluster.url(), str(cluster.password_file)
        engine = fleet_central.make_engine(url, pw)
        fleet_migrate.upgrade(engine)
        engine.dispose()
        template = work / "template.db"
        migrate.upgrade(template)

        db = work / "host.db"
        make_db(db, args.rows, template)
        n, wall, cpu, _s, _e = ship_all(url, pw, db, "bench-host", args.batch)
        ref_n, ref_wall = copy_reference(url, pw, db, "copy-host")
        shipped = n / wall
        copied = ref_n / ref_wall
        print(f"backlog: {n} results of {COMPONENTS} components, batch {args.batch}")
        print(
            f"  shipper  {shipped:10,.0f} rows/s  (wall {wall:.2f} s, client CPU {cpu:.2f} s = {n / cpu:,.0f} rows per CPU-s)"
        )
        print(
            f"  raw COPY {copied:10,.0f} rows/s  (wall {ref_wall:.2f} s)   ratio shipper/COPY = {shipped / copied:.2f}"
        )

        dbs = []
        for i in range(args.hosts):
            p = work / f"host{i}.db"
            make_db(p, args.rows // args.hosts, template)
            dbs.append((url, pw, str(p), f"fleet-{i}", args.batch))
        with mp.get_context("spawn").Pool(args.hosts) as pool:
            results = pool.map(_ship_process, dbs)
        total = sum(r[0] for r in results)
        wall = max(r[4] for r in results) - min(r[3] for r in results)  # first start to last end
        need = 100 * COMPONENTS / 10
        print(
            f"centre absorption: {args.hosts} hosts shipping at once: {total / wall:,.0f} rows/s "
            f"({total} rows in {wall:.2f} s); goal 100 hosts x {COMPONENTS} "
            f"components at 10 s = {need:,.0f} rows/s -> {total / wall / need:.1f}x the goal"
        )

        samples = lag_run(url, pw, db, args.lag_seconds, args.every, args.batch)
        print(
            f"lag at {COMPONENTS} components every 10 s, round every {args.every:g} s, over {args.lag_seconds:g} s: "
            f"p50 {statistics.median(samples):.2f} s, max {max(samples):.2f} s ({len(samples)} samples, "
            "taken just before each round)"
        )
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

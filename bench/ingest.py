"""How fast the single writer gets check results into SQLite, against raw sqlite3 in the same run.

Prints rows/s for
  1. raw sqlite3 executemany, 10k rows per transaction (the reference line of semantics.md; same
     migrated schema, same indexes, no rollups),
  2. the Writer with fire-and-forget results (and their fold into the hourly rollups: every 10 s and
     at the flush that ends the run),
  3. the Writer's group commit with 100 concurrent asyncio producers each awaiting `submit(fn)` of one
     row: rows/s and enqueue→durable p50/p99 as the producers saw it,
and each figure's ratio to line 1. Reference figures (semantics.md, this kind of machine): raw
~675,000 rows/s; writer thread + queue ~140,000 rows/s with p99 1.4 ms for awaiting producers.

Usage: .venv/bin/python bench/ingest.py [--rows 200000] [--components 1000] [--producers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.store import migrate
from daemon.store import sqlite as store_sqlite
from daemon.store.results_sql import INSERT_RESULT, result_row
from daemon.store.writer import Writer
from daemon.types import CheckResult, Status

STATUSES = (Status.HEALTHY,) * 8 + (Status.DEGRADED, Status.UNHEALTHY)


def make_db(template: Path, directory: Path, name: str, components: int) -> Path:
    path = directory / f"{name}.db"
    shutil.copyfile(template, path)
    conn = store_sqlite.connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, 'tcp', 10, 0)",
        [(f"c{i}",) for i in range(components)],
    )
    conn.execute("COMMIT")
    conn.close()
    return path


def make_results(n: int, components: int, start: float) -> list[CheckResult]:
    """One result per component per 10 s, so rows span hours like a real fleet's would."""
    return [
        CheckResult(
            f"c{i % components}",
            STATUSES[i % len(STATUSES)],
            1.0 + (i % 50) / 10,
            "connected",
            None,
            start + (i // components) * 10.0,
        )
        for i in range(n)
    ]


def drop_composite_index(path: Path) -> Path:
    """Same database without check_results' (component_id, ts) index: shows what that index costs."""
    conn = store_sqlite.connect(path)
    conn.execute("DROP INDEX IF EXISTS ix_check_results_component_id_ts")
    conn.close()
    return path


def bench_raw(path: Path, results: list[CheckResult], components: int) -> float:
    ids = {f"c{i}": i + 1 for i in range(components)}
    rows = [result_row(r, ids[r.component]) for r in results]
    conn = store_sqlite.connect(path)
    started = time.perf_counter()
    for i in range(0, len(rows), 10_000):
        conn.execute("BEGIN")
        conn.executemany(INSERT_RESULT, rows[i : i + 10_000])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


async def bench_writer_results(path: Path, results: list[CheckResult]) -> tuple[float, dict]:
    writer = Writer(path, max_queue=len(results) + 1)
    await writer.start()
    started = time.perf_counter()
    for result in results:
        writer.submit_result(result)
    await writer.flush()
    elapsed = time.perf_counter() - started
    stats = writer.stats()
    await writer.stop()
    return stats.written / elapsed, {
        "shed": stats.shed,
        "batches": stats.batches,
        "p99_ms": stats.result_latency_p99_ms,
    }


async def bench_group_commit(path: Path, producers: int, per_producer: int) -> tuple[float, float, float, dict]:
    writer = Writer(path)
    await writer.start()
    latencies: list[float] = []
    now = time.time()

    def insert(conn: sqlite3.Connection, i: int = 0) -> int:
        return conn.execute(
            "INSERT INTO check_results (component_id, ts, status, latency_ms, message) VALUES (1, ?, 'healthy', 1.0, 'ok')",
            (now + i,),
        ).lastrowid

    async def producer(k: int) -> None:
        for i in range(per_producer):
            t = time.perf_counter()
            await writer.submit(lambda conn, i=i: insert(conn, i))
            latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(producer(k) for k in range(producers)))
    elapsed = time.perf_counter() - started
    stats = writer.stats()
    await writer.stop()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(0.99 * len(latencies))] * 1000
    return (
        len(latencies) / elapsed,
        p50,
        p99,
        {"batches": stats.batches, "rows/batch": round(len(latencies) / stats.batches, 1)},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--components", type=int, default=1_000)
    parser.add_argument("--producers", type=int, default=100)
    parser.add_argument("--per-producer", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is printed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="healerd-bench-") as tmp:
        directory = Path(tmp)
        template = directory / "template.db"
        migrate.upgrade(template)
        results = make_results(args.rows, args.components, time.time() - 3600)
        raw, raw_lean, fire, group = [], [], [], []
        for run in range(args.repeat):
            raw.append(bench_raw(make_db(template, directory, f"raw{run}", args.components), results, args.components))
            lean = drop_composite_index(make_db(template, directory, f"lean{run}", args.components))
            raw_lean.append(bench_raw(lean, results, args.components))
            fire.append(
                asyncio.run(bench_writer_results(make_db(template, directory, f"w{run}", args.components), results))
            )
            group.append(
                asyncio.run(
                    bench_group_commit(make_db(template, directory, f"g{run}", 1), args.producers, args.per_producer)
                )
            )
        raw_rate = statistics.median(raw)
        fire_rate = statistics.median(r for r, _ in fire)
        group_run = sorted(group)[len(group) // 2]
        print(
            f"sqlite {sqlite3.sqlite_version}, python {sys.version.split()[0]}, {args.rows:,} rows, "
            f"{args.components:,} components, median of {args.repeat}"
        )
        print(f"{'method':<58} {'rows/s':>10} {'ratio':>7}")
        print(f"{'raw sqlite3 executemany, 10k rows/transaction':<58} {raw_rate:>10,.0f} {1.0:>7.2f}")
        lean_rate = statistics.median(raw_lean)
        print(
            f"{'  same, without the (component_id, ts) index (info only)':<58} {lean_rate:>10,.0f} {lean_rate / raw_rate:>7.2f}"
        )
        print(
            f"{'Writer, fire-and-forget results + hourly rollup upserts':<58} {fire_rate:>10,.0f} {fire_rate / raw_rate:>7.2f}"
            f"   shed {fire[len(fire) // 2][1]['shed']}, {fire[len(fire) // 2][1]['batches']} batches"
        )
        rate, p50, p99, info = group_run
        print(
            f"{f'Writer, {args.producers} producers awaiting submit(fn), 1 row each':<58} {rate:>10,.0f} {rate / raw_rate:>7.2f}"
            f"   enqueue→durable p50 {p50:.2f} ms, p99 {p99:.2f} ms, {info}"
        )
        print("reference (semantics.md): raw ~675,000 rows/s; writer thread + queue ~140,000 rows/s, p99 1.4 ms")


if __name__ == "__main__":
    main()

"""The writer's CPU per result: rollups upserted in every batch (the reference) vs folded every 10 s.

200 components checked every second, a commit every 0.5 s (half the components per batch), on a
migrated database holding an hour of history (so the `(component_id, ts)` index costs what it costs
in a daemon that has been running: bench/result_index_cost.py). Each way runs the writer's own
statements in `BEGIN IMMEDIATE … COMMIT`, alternately, three times:

- reference: `results_sql.insert_results` plus `aggregate_rollups` and one `UPSERT_ROLLUP` per
  (hour, component) of the batch — what the writer did before migration 0014;
- fold: `insert_results` in every batch and `results_sql.fold_rollups` in every 20th (10 s), as the
  writer does now.

Prints user+system CPU per result of each, and the ratio. The reference moves the mark itself
(without folding), so neither way counts a result twice.

Usage: .venv/bin/python bench/rollup_fold_cost.py [--components 200] [--history-s 3600] [--batches 400]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from result_index_cost import FOLD_EVERY, history_db, row

from daemon.store import results_sql as R


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=200)
    parser.add_argument("--history-s", type=int, default=3600)
    parser.add_argument("--batches", type=int, default=400)
    args = parser.parse_args()
    n = args.components
    with tempfile.TemporaryDirectory() as tmp:
        conn = history_db(Path(tmp) / "healerd.db", n, args.history_s)

        def upserts(rows: list[R.Row], _k: int) -> None:
            R.insert_results(conn, rows)
            conn.executemany(R.UPSERT_ROLLUP, R.aggregate_rollups(rows))
            conn.execute("UPDATE result_rollups_mark SET result_id = (SELECT max(id) FROM check_results)")

        def fold(rows: list[R.Row], k: int) -> None:
            R.insert_results(conn, rows)
            if k % FOLD_EVERY == FOLD_EVERY - 1:
                R.fold_rollups(conn)

        print(f"{n} components, {args.history_s} s of history, a commit every 0.5 s; CPU per result (user+sys)")
        ways = (("reference: upserts in every batch", upserts), ("fold every 10 s", fold))
        runs: dict[str, list[float]] = {label: [] for label, _ in ways}
        start, k = time.time(), 0
        for _rep in range(3):
            for label, write in ways:
                R.fold_rollups(conn)
                cpu = written = 0.0
                for j in range(args.batches):
                    ts = start + k * 0.5
                    k += 1
                    rows = [row(i + 1, ts + i / n) for i in range(j % 2, n, 2)]
                    before = resource.getrusage(resource.RUSAGE_SELF)
                    conn.execute("BEGIN IMMEDIATE")
                    write(rows, j)
                    conn.execute("COMMIT")
                    after = resource.getrusage(resource.RUSAGE_SELF)
                    cpu += after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                    written += len(rows)
                runs[label].append(cpu / written * 1e6)
                print(f"  {label:36s} {runs[label][-1]:6.2f} µs per result")
        conn.close()
    ref, new = (min(v) for v in runs.values())
    print(f"best of 3: reference {ref:.2f}, fold {new:.2f} µs per result; fold/reference {new / ref:.2f}")


if __name__ == "__main__":
    main()

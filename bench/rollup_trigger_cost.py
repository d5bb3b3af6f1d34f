"""What the daily-rollup triggers (migration 0007) add to the writer: CPU per hourly rollup UPSERT.

The writer UPSERTs one hourly rollup row per (hour, component) in each batch; since 0007 two triggers
fold each into `result_rollups_daily`. This times batches of 1,000 UPSERTs (the writer's statement,
`results_sql.UPSERT_ROLLUP`) on a migrated database with the triggers, then with them dropped (the
reference, as before 0007), same run. CPU time, median of 30 batches.

Usage: .venv/bin/python bench/rollup_trigger_cost.py
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.store import migrate
from daemon.store.results_sql import UPSERT_ROLLUP, aggregate_rollups


def batches(conn: sqlite3.Connection, label: str) -> float:
    cpus = []
    for k in range(30):
        # one result per component, folded by the writer's own aggregation (so the parameters always
        # match the statement, whatever columns the rollups gain)
        ts = 3600.0 * (1000 + k // 10)
        results = [(i + 1, ts, "healthy", 2.0, None, "ok", 0, None, 0) for i in range(1000)]
        rows = aggregate_rollups(results)
        t = time.process_time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(UPSERT_ROLLUP, rows)
        conn.execute("COMMIT")
        cpus.append(time.process_time() - t)
    per = statistics.median(cpus) * 1e6 / 1000
    print(f"  {label:38s} {per:6.2f} µs CPU per rollup UPSERT")
    return per


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "healerd.db"
        migrate.upgrade(path)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.executemany(
            "INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, 'tcp', 1, 0)",
            [(f"c{i}",) for i in range(1000)],
        )
        with_triggers = batches(conn, "with the daily-rollup triggers")
        conn.execute("DROP TRIGGER result_rollups_daily_insert")
        conn.execute("DROP TRIGGER result_rollups_daily_update")
        conn.execute("DELETE FROM result_rollups_hourly")
        without = batches(conn, "reference: without them (before 0007)")
        print(f"  the triggers add {with_triggers - without:.2f} µs per UPSERT ({with_triggers / without:.2f}x)")
        conn.close()


if __name__ == "__main__":
    main()

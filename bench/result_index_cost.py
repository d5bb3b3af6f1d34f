"""What the (component_id, ts) index on check_results costs the writer once there is some history.

The writer's batch holds one result per component (200 components checked every second, a commit
about twice a second). Each new row lands at the end of its component's range of
`ix_check_results_component_id_ts`, so once a component's range spans a leaf page of its own (after a
few minutes of history), every result of a batch dirties a different leaf: written to the WAL at the
commit, again at the checkpoint. This times the writer's own statements (`results_sql.insert_results`
in `BEGIN IMMEDIATE … COMMIT`, and `fold_rollups` in every 20th, as the writer runs them) on a
migrated database holding an hour of
history, then with that index dropped (the reference, same run, same history), then with the index
dropped and a trigger keeping each component's latest result instead (what the views would need).
CPU time per result, user and system.

Why the index stays (issue 11's closing note): `healerd replay` counts a component's results between
two positions through it (`FoldSource.gap`), and explain, status and the views read a component's
latest result through it.

Usage: .venv/bin/python bench/result_index_cost.py [--components 200] [--history-s 3600]
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.store import migrate
from daemon.store import results_sql as R
from daemon.store.sqlite import connect

LATEST = """
CREATE TABLE latest_results (component_id INTEGER PRIMARY KEY, result_id INTEGER NOT NULL, ts REAL NOT NULL);
CREATE TRIGGER latest_results_insert AFTER INSERT ON check_results BEGIN
    INSERT INTO latest_results (component_id, result_id, ts) VALUES (NEW.component_id, NEW.id, NEW.ts)
    ON CONFLICT (component_id) DO UPDATE SET result_id = excluded.result_id, ts = excluded.ts
     WHERE excluded.ts >= latest_results.ts;
END;
"""


def row(cid: int, ts: float) -> tuple:
    return (cid, ts, "healthy", 0.1, None, "connected to 127.0.0.1:1", 0, None, 0)


#: batches between two folds into the rollups: 10 s at a commit every 0.5 s (store/writer.py ROLLUPS_EVERY_S)
FOLD_EVERY = 20


def history_db(path: Path, n: int, history_s: int) -> sqlite3.Connection:
    """A migrated database at `path` with `n` components and `history_s` seconds of healthy results
    (one a second each, counted into the rollups as the writer would have), checkpointed."""
    migrate.upgrade(path)
    conn = connect(path)
    conn.executemany(
        "INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, 'tcp', 1, 0)",
        [(f"c{i}",) for i in range(n)],
    )
    t0 = time.time() - history_s
    conn.execute("BEGIN")
    R.write_results(conn, [row(i + 1, t0 + s + i / n) for s in range(history_s) for i in range(n)])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return conn


def batches(conn: sqlite3.Connection, n: int, start: float, label: str, count: int = 400) -> float:
    """Half the components per commit (a 1 s interval, commits every 0.5 s), `count` commits."""
    user = system = 0.0
    written = 0
    for k in range(count):
        ts = start + k * 0.5
        rows = [row(i + 1, ts + i / n) for i in range(k % 2, n, 2)]
        before = resource.getrusage(resource.RUSAGE_SELF)
        conn.execute("BEGIN IMMEDIATE")
        R.insert_results(conn, rows)  # as the writer does: results in every batch, the fold every 10 s
        if k % FOLD_EVERY == FOLD_EVERY - 1:
            R.fold_rollups(conn)
        conn.execute("COMMIT")
        after = resource.getrusage(resource.RUSAGE_SELF)
        user += after.ru_utime - before.ru_utime
        system += after.ru_stime - before.ru_stime
        written += len(rows)
    per = (user + system) / written * 1e6
    print(
        f"  {label:44s} user {user / written * 1e6:5.2f}  sys {system / written * 1e6:5.2f}  = {per:5.2f} µs per result"
    )
    return per


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=200)
    parser.add_argument("--history-s", type=int, default=3600)
    args = parser.parse_args()
    n = args.components
    with tempfile.TemporaryDirectory() as tmp:
        conn = history_db(Path(tmp) / "healerd.db", n, args.history_s)
        print(
            f"{n} components, {args.history_s} s of history ({n * args.history_s:,} results), 1 result per component per second"
        )
        now = time.time()
        with_index = batches(conn, n, now, "with ix_check_results_component_id_ts")
        conn.execute("DROP INDEX ix_check_results_component_id_ts")
        without = batches(conn, n, now + 200, "reference: without it")
        conn.executescript(LATEST)
        latest = batches(conn, n, now + 400, "without it, latest_results kept by a trigger")
        conn.close()
    print(
        f"  the index costs {with_index - without:.2f} µs per result ({with_index / without:.2f}x the reference); "
        f"with the trigger instead: {with_index / latest:.2f}x cheaper than today"
    )


if __name__ == "__main__":
    main()

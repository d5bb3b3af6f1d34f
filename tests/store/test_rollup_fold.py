"""The hourly rollups are folded from raw results every few seconds, exactly once (issue 11).

The writer inserts results batch by batch and counts them into `result_rollups_hourly` only when a fold
is due, when someone flushes, and when it stops; `result_rollups_mark` says how far the rollups have
counted and moves in the fold's own transaction. These tests pin that the fold gives what the per-batch
upserts gave, that nothing is counted twice or left out (idle writer, stop, restart, retention,
migration), and that a report is at most one fold behind.
"""

from __future__ import annotations

import random
import sqlite3
import time

import pytest
from helpers import async_wait_until, open_db
from structlog.testing import capture_logs
from writer_kit import NOW, add_components, insert_transition, result, rows, scalar

from daemon.store import migrate
from daemon.store import results_sql as R
from daemon.store.retention import RULES, delete_batch
from daemon.store.writer import Writer
from daemon.types import Status

ROLLUP = (
    "SELECT hour, component_id, total, healthy, degraded, unhealthy, unknown, injected, maintenance, "
    "maintenance_up, latency_sum_ms, latency_min_ms, latency_max_ms FROM result_rollups_hourly "
    "ORDER BY hour, component_id"
)
#: aggregate_rollups' tuple layout → ROLLUP's column order
_ORDER = (0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 8, 9, 10)


def random_rows(ids: list[int], n: int, seed: int, start: float = NOW) -> list[R.Row]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        status = rng.choice(["healthy", "healthy", "healthy", "degraded", "unhealthy", "unknown"])
        out.append(
            (
                rng.choice(ids),
                start + i * 7.3,  # ~3 hours of results
                status,
                round(rng.uniform(0.1, 900.0), 3),
                None if status == "healthy" else "refused",
                "m",
                int(rng.random() < 0.1),
                None,
                int(rng.random() < 0.2),
            )
        )
    return out


def expected(rows_: list[R.Row]) -> list[tuple]:
    """What the per-batch upserts (the writer before the fold) would have stored for these rows."""
    return sorted(tuple(g[k] for k in _ORDER) for g in R.aggregate_rollups(rows_))


def same(stored: list[tuple], wanted: list[tuple]) -> bool:
    return len(stored) == len(wanted) and all(
        s[:10] == w[:10] and s[10] == pytest.approx(w[10]) and s[11:] == w[11:] for s, w in zip(stored, wanted)
    )


def fold(db_path) -> bool:
    with open_db(db_path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        folded = R.fold_rollups(conn)
        conn.execute("COMMIT")
    return folded


def insert(db_path, rows_: list[R.Row]) -> None:
    with open_db(db_path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        R.insert_results(conn, rows_)
        conn.execute("COMMIT")


def test_a_fold_counts_what_the_per_batch_upserts_counted_and_a_second_fold_adds_nothing(db_path):
    ids = list(add_components(db_path, ["a", "b", "c"]).values())
    written = random_rows(ids, 1500, seed=11)
    for k in range(0, len(written), 97):  # batches of any size, across hours
        insert(db_path, written[k : k + 97])
    assert rows(db_path, ROLLUP) == []  # inserted, not yet counted
    assert fold(db_path) is True
    assert same(rows(db_path, ROLLUP), expected(written))
    assert scalar(db_path, "SELECT result_id FROM result_rollups_mark") == scalar(
        db_path, "SELECT max(id) FROM check_results"
    )
    assert fold(db_path) is False
    assert same(rows(db_path, ROLLUP), expected(written))

    more = random_rows(ids, 300, seed=12, start=NOW + 1500 * 7.3)
    insert(db_path, more)
    fold(db_path)
    assert same(rows(db_path, ROLLUP), expected(written + more))
    # the daily rollups follow the hourly ones through their triggers, as before
    assert scalar(db_path, "SELECT sum(total) FROM result_rollups_daily") == len(written) + len(more)


async def test_a_writer_counts_its_results_at_the_next_fold_not_in_each_batch(db_path):
    add_components(db_path, ["api"])
    writer = Writer(db_path, rollups_every_s=3600)
    await writer.start()
    try:
        writer.submit_result(result("api", ts=NOW))
        await writer.flush()  # a flush folds: what was submitted before it is in every report
        assert scalar(db_path, "SELECT sum(total) FROM result_rollups_hourly") == 1
        for i in range(1, 6):
            writer.submit_result(result("api", Status.UNHEALTHY, ts=NOW + i))
        await async_wait_until(lambda: scalar(db_path, "SELECT count(*) FROM check_results") == 6, 10)
        # committed, but the fold is an hour away: the rollups still count one
        assert scalar(db_path, "SELECT sum(total) FROM result_rollups_hourly") == 1
        await writer.flush()
        assert rows(db_path, "SELECT total, healthy, unhealthy FROM result_rollups_hourly") == [(6, 1, 5)]
    finally:
        await writer.stop()


async def test_an_idle_writer_folds_its_last_results_when_the_fold_comes_due(db_path):
    add_components(db_path, ["api"])
    writer = Writer(db_path, rollups_every_s=0.2)
    await writer.start()
    try:
        await writer.flush()
        for i in range(3):
            writer.submit_result(result("api", ts=NOW + i))
        # nothing else is submitted: the writer wakes for the fold by itself
        await async_wait_until(lambda: scalar(db_path, "SELECT sum(total) FROM result_rollups_hourly") == 3, 10)
    finally:
        await writer.stop()


async def test_a_stop_folds_what_is_left_and_a_start_folds_what_a_kill_left(db_path):
    ids = add_components(db_path, ["api"])
    writer = Writer(db_path, rollups_every_s=3600)
    await writer.start()
    await writer.flush()
    for i in range(4):
        writer.submit_result(result("api", ts=NOW + i))
    await async_wait_until(lambda: scalar(db_path, "SELECT count(*) FROM check_results") == 4, 10)
    await writer.stop()
    assert scalar(db_path, "SELECT sum(total) FROM result_rollups_hourly") == 4

    # what a kill -9 between a batch and the next fold leaves: results above the mark
    insert(db_path, [(ids["api"], NOW + 10 + i, "healthy", 1.0, None, "m", 0, None, 0) for i in range(3)])
    writer = Writer(db_path, rollups_every_s=3600)
    await writer.start()
    await async_wait_until(lambda: scalar(db_path, "SELECT sum(total) FROM result_rollups_hourly") == 7, 10)
    await writer.stop()
    assert scalar(db_path, "SELECT sum(total) FROM result_rollups_hourly") == 7


def test_pruning_counts_results_before_they_go_and_a_reused_id_is_still_counted(db_path):
    ids = list(add_components(db_path, ["a", "b"]).values())
    old = random_rows(ids, 200, seed=5, start=NOW - 30 * 86400)
    insert(db_path, old)  # not folded yet when retention comes
    rule = next(r for r in RULES if r.table == "check_results")
    with open_db(db_path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        assert delete_batch(conn, rule, NOW, 10_000) == 200  # every raw result goes
        conn.execute("COMMIT")
    assert same(rows(db_path, ROLLUP), expected(old))  # but not before it was counted
    # SQLite hands out rowids from max + 1: with every row gone the next ids start again at 1, below
    # the mark the fold had reached; the mark came down with the rows, so they are counted
    assert scalar(db_path, "SELECT result_id FROM result_rollups_mark") == 0
    new = random_rows(ids, 50, seed=6)
    insert(db_path, new)
    assert scalar(db_path, "SELECT min(id) FROM check_results") == 1
    fold(db_path)
    assert same(rows(db_path, ROLLUP), expected(old + new))


def test_upgrade_starts_the_mark_at_the_newest_result_and_downgrade_folds_what_is_above_it(db_path):
    ids = list(add_components(db_path, ["a"]).values())
    migrate.downgrade(db_path, "0013")
    before = random_rows(ids, 40, seed=7)
    conn = sqlite3.connect(db_path)
    with conn:  # 0013's writer: each batch upserted its rollups itself
        conn.executemany(R.INSERT_RESULT, before)
        conn.executemany(R.UPSERT_ROLLUP, R.aggregate_rollups(before))
    conn.close()

    migrate.upgrade(db_path)
    assert scalar(db_path, "SELECT result_id FROM result_rollups_mark") == scalar(
        db_path, "SELECT max(id) FROM check_results"
    )
    assert fold(db_path) is False  # nothing counted twice
    after = random_rows(ids, 30, seed=8, start=NOW + 86400)
    insert(db_path, after)  # this revision's writer, not folded yet

    migrate.downgrade(db_path, "0013")
    assert same(rows(db_path, ROLLUP), expected(before + after))
    assert rows(db_path, "SELECT name FROM sqlite_master WHERE name = 'result_rollups_mark'") == []
    migrate.upgrade(db_path)
    assert fold(db_path) is False


async def test_a_fold_that_fails_costs_no_result_and_no_call_and_is_retried_at_its_pace(db_path):
    ids = add_components(db_path, ["api"])
    with open_db(db_path) as conn:
        conn.execute("DROP TABLE result_rollups_mark")  # every fold now raises
    every = 0.05
    writer = Writer(db_path, rollups_every_s=every)
    with capture_logs() as logs:
        started = time.monotonic()
        await writer.start()
        try:
            for i in range(5):
                writer.submit_result(result("api", ts=NOW + i))
            row_id = await writer.submit(insert_transition(ids["api"], "opened"))
            await writer.flush()  # its batch folds, fails, and is written item by item without the fold
            assert row_id > 0
            assert scalar(db_path, "SELECT count(*) FROM check_results") == 5
            assert rows(db_path, "SELECT count(*) FROM result_rollups_hourly") == [(0,)]

            def failed() -> int:
                return sum(e["event"] == "writer.batch_failed_isolating_items" for e in logs)

            # idle now: the fold is tried again every `every` seconds, not in a loop
            await async_wait_until(lambda: failed() >= 4, 10)
        finally:
            await writer.stop()
            elapsed = time.monotonic() - started
    assert failed() <= elapsed / every + 3


async def test_a_flush_whose_results_take_several_batches_finds_them_all_in_the_rollups(db_path):
    add_components(db_path, ["api"])
    writer = Writer(db_path, max_batch=3, rollups_every_s=3600)
    for i in range(10):  # queued before the thread starts, the flush behind them
        writer.submit_result(result("api", ts=NOW + i))
    flushed = writer.flush()
    await writer.start()
    try:
        await flushed  # its batch held it and two results; it waited, parked, for the other eight
        assert writer.stats().batches >= 4
        assert scalar(db_path, "SELECT sum(total) FROM result_rollups_hourly") == 10
    finally:
        await writer.stop()

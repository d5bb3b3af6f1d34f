"""The single writer on a healthy database: what it writes, in which transaction, and what it promises."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from writer_kit import NOW, add_components, insert_transition, result, rows, scalar

from daemon.errors import StoreError
from daemon.store.sqlite import pragma_values
from daemon.store.writer import Writer
from daemon.types import Status


@pytest.fixture
def ids(db_path):
    return add_components(db_path, ["api", "db", "cache"])


async def test_results_are_written_with_their_hourly_rollups(db_path, ids):
    writer = Writer(db_path)
    await writer.start()
    writer.submit_result(result("api", Status.HEALTHY, ts=NOW + 10, latency_ms=5.0))
    writer.submit_result(result("api", Status.UNHEALTHY, ts=NOW + 20, latency_ms=30.0, injected=True))
    writer.submit_result(result("api", Status.DEGRADED, ts=NOW + 3600 + 1, latency_ms=7.5))
    writer.submit_result(result("db", Status.UNKNOWN, ts=NOW + 30, latency_ms=2.0))
    await writer.flush()
    await writer.stop()

    assert scalar(db_path, "SELECT count(*) FROM check_results") == 4
    assert rows(
        db_path,
        "SELECT status, latency_ms, error_class, message, injected FROM check_results "
        "WHERE component_id = ? ORDER BY ts",
        (ids["api"],),
    ) == [
        ("healthy", 5.0, None, "ok", 0),
        ("unhealthy", 30.0, "refused", "ok", 1),
        ("degraded", 7.5, "refused", "ok", 0),
    ]
    rollups = rows(
        db_path,
        "SELECT hour, component_id, total, healthy, degraded, unhealthy, unknown, injected, "
        "latency_sum_ms, latency_min_ms, latency_max_ms FROM result_rollups_hourly ORDER BY hour, component_id",
    )
    hour = int(NOW // 3600) * 3600
    assert rollups == [
        (hour, ids["api"], 2, 1, 0, 1, 0, 1, 35.0, 5.0, 30.0),
        (hour, ids["db"], 1, 0, 0, 0, 1, 0, 2.0, 2.0, 2.0),
        (hour + 3600, ids["api"], 1, 0, 1, 0, 0, 0, 7.5, 7.5, 7.5),
    ]


async def test_rollups_accumulate_across_batches(db_path, ids):
    writer = Writer(db_path, max_batch=3)
    await writer.start()
    latencies = [4.0, 9.0, 1.0, 12.0, 6.0, 3.0, 8.0]
    for i, latency in enumerate(latencies):
        writer.submit_result(
            result("cache", Status.HEALTHY if i % 2 else Status.UNHEALTHY, ts=NOW + i, latency_ms=latency)
        )
    await writer.flush()
    await writer.stop()

    assert writer.stats().batches >= 3
    assert rows(
        db_path,
        "SELECT total, healthy, unhealthy, latency_sum_ms, latency_min_ms, latency_max_ms FROM result_rollups_hourly",
    ) == [(7, 3, 4, sum(latencies), 1.0, 12.0)]


async def test_awaited_call_returns_its_value_and_is_committed_when_it_returns(db_path, ids):
    writer = Writer(db_path)
    await writer.start()
    row_id = await writer.submit(insert_transition(ids["db"], "3 consecutive failures (refused)"))
    # Read from another connection at once: it is committed, not merely executed.
    assert rows(db_path, "SELECT id, reason FROM breaker_transitions") == [(row_id, "3 consecutive failures (refused)")]
    await writer.stop()


async def test_a_failing_call_gets_its_own_error_and_the_rest_of_its_batch_commits(db_path, ids):
    writer = Writer(db_path)
    futures = []

    def boom(conn):
        conn.execute(
            "INSERT INTO breaker_transitions (component_id, ts, from_state, to_state, reason) "
            "VALUES (?, 0, 'closed', 'open', 'rolled back')",
            (ids["api"],),
        )
        raise ValueError("bug in a call")

    def violates(conn):
        conn.execute(
            "INSERT INTO breaker_transitions (component_id, ts, from_state, to_state, reason) "
            "VALUES (?, 0, 'closed', 'sideways', 'bad state')",
            (ids["api"],),
        )

    await writer.start()
    futures.append(writer.submit(insert_transition(ids["api"], "first")))
    futures.append(writer.submit(boom))
    futures.append(writer.submit(violates))
    futures.append(writer.submit(insert_transition(ids["api"], "last")))
    for i in range(20):
        writer.submit_result(result("api", ts=NOW + i))
    outcomes = [await _outcome(f) for f in futures]
    await writer.flush()
    await writer.stop()

    assert isinstance(outcomes[0], int) and isinstance(outcomes[3], int)
    assert isinstance(outcomes[1], ValueError)
    assert isinstance(outcomes[2], sqlite3.IntegrityError)
    assert [r[0] for r in rows(db_path, "SELECT reason FROM breaker_transitions ORDER BY id")] == ["first", "last"]
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 20
    stats = writer.stats()
    assert (stats.calls_done, stats.calls_failed, stats.written) == (2, 2, 20)


async def _outcome(future):
    try:
        return await future
    except Exception as exc:
        return exc


async def test_results_for_undeclared_components_are_dropped_and_counted(db_path, ids):
    writer = Writer(db_path)
    await writer.start()
    writer.submit_result(result("api"))
    writer.submit_result(result("ghost"))
    writer.submit_result(result("ghost"))
    await writer.flush()
    await writer.stop()
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 1
    assert (writer.stats().written, writer.stats().dropped_unknown) == (1, 2)


async def test_a_component_added_by_a_call_is_known_to_results_in_the_same_batch(db_path, ids):
    writer = Writer(db_path)

    def add_new(conn):
        return conn.execute(
            "INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES ('new', 'tcp', 5, 0)"
        ).lastrowid

    await writer.start()
    writer_future = writer.submit(add_new)
    writer.submit_result(result("new"))
    added = await writer_future
    await writer.flush()
    await writer.stop()
    assert rows(db_path, "SELECT component_id FROM check_results") == [(added,)]
    assert writer.stats().dropped_unknown == 0


async def test_a_malformed_result_is_rejected_without_losing_its_batch(db_path, ids):
    writer = Writer(db_path)
    await writer.start()
    writer.submit_result(result("api", ts=NOW + 1))
    writer.submit_result(result("api", status="sideways", ts=NOW + 2))  # type: ignore[arg-type]
    writer.submit_result(result("api", ts=NOW + 3))
    await writer.flush()
    await writer.stop()
    assert [r[0] for r in rows(db_path, "SELECT ts FROM check_results ORDER BY ts")] == [NOW + 1, NOW + 3]
    assert (writer.stats().written, writer.stats().rejected) == (2, 1)
    assert scalar(db_path, "SELECT total FROM result_rollups_hourly") == 2


async def test_a_row_the_schema_refuses_costs_that_row_and_not_its_batch(db_path, ids):
    """The fast path writes a batch without a SAVEPOINT; a row SQLite itself refuses (here a trigger,
    as a CHECK or a stale foreign key would) rolls the batch back and the writer re-runs it item by
    item, so the call and the other results of the batch are still committed."""
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON check_results WHEN NEW.message = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
    )
    conn.commit()
    conn.close()
    writer = Writer(db_path)
    for i, message in enumerate(["ok", "ok", "poison", "ok"]):  # queued before the thread starts: one batch
        writer.submit_result(result("api", ts=NOW + i, message=message))
    transition = writer.submit(insert_transition(ids["api"], "opened"))
    await writer.start()
    assert await transition > 0
    await writer.flush()
    await writer.stop()
    assert [r[0] for r in rows(db_path, "SELECT ts FROM check_results ORDER BY ts")] == [NOW, NOW + 1, NOW + 3]
    assert (writer.stats().written, writer.stats().rejected) == (3, 1)
    assert scalar(db_path, "SELECT total FROM result_rollups_hourly") == 3
    assert scalar(db_path, "SELECT count(*) FROM breaker_transitions") == 1


async def test_no_transaction_holds_more_than_max_batch_items(db_path, ids):
    writer = Writer(db_path, max_batch=10)
    for i in range(95):  # queued before the thread starts: the writer finds them all at once
        writer.submit_result(result("api", ts=NOW + i))
    await writer.start()
    await writer.flush()
    await writer.stop()
    stats = writer.stats()
    assert stats.written == 95
    assert stats.batches == 10  # 9 full batches of 10 and one of 5


async def test_stop_commits_everything_queued(db_path, ids):
    writer = Writer(db_path)
    await writer.start()
    futures = [writer.submit(insert_transition(ids["db"], f"t{i}")) for i in range(50)]
    for i in range(5_000):
        writer.submit_result(result("db", ts=NOW + i))
    await writer.stop(timeout=30)
    assert all(f.done() and not f.exception() for f in futures)
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 5_000
    assert scalar(db_path, "SELECT count(*) FROM breaker_transitions") == 50
    assert writer.stats().lost_on_stop == 0


async def test_submissions_after_stop_fail_loudly_or_are_counted(db_path, ids):
    writer = Writer(db_path)
    await writer.start()
    await writer.stop()
    with pytest.raises(StoreError):
        await writer.submit(insert_transition(ids["db"], "late"))
    writer.submit_result(result("db"))
    assert writer.stats().lost_on_stop == 1


async def test_flush_waits_for_results_queued_before_it(db_path, ids):
    writer = Writer(db_path, max_batch=50)
    await writer.start()
    for i in range(1_000):
        writer.submit_result(result("cache", ts=NOW + i))
    await writer.flush()
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 1_000
    await writer.stop()


async def test_a_thread_can_submit_and_wait_for_durability(db_path, ids):
    writer = Writer(db_path)
    await writer.start()
    got = {}

    def worker():
        got["id"] = writer.submit_threadsafe(insert_transition(ids["api"], "from a thread")).result(timeout=10)

    thread = threading.Thread(target=worker)
    thread.start()
    await asyncio.to_thread(thread.join, 15)
    assert rows(db_path, "SELECT id FROM breaker_transitions") == [(got["id"],)]
    await writer.stop()


async def test_stats_report_counts_latencies_and_queue(db_path, ids):
    writer = Writer(db_path)
    await writer.start()
    for i in range(10):
        writer.submit_result(result("api", ts=NOW + i))
    await writer.submit(insert_transition(ids["api"], "x"))
    await writer.flush()
    stats = writer.stats()
    await writer.stop()
    assert stats.written == 10 and stats.calls_done == 1 and stats.shed == 0
    assert stats.result_latency_p50_ms is not None and stats.result_latency_p50_ms <= stats.result_latency_p99_ms
    assert stats.call_latency_p99_ms is not None
    assert stats.db_available and stats.last_error is None
    assert (stats.queued_results, stats.queued_calls) == (0, 0)


async def test_the_writer_connection_carries_the_store_pragmas(db_path, ids):
    writer = Writer(db_path, busy_timeout_ms=250)
    await writer.start()
    values = await writer.submit(
        lambda conn: pragma_values(conn, ("journal_mode", "synchronous", "foreign_keys", "busy_timeout"))
    )
    await writer.stop()
    assert values == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 250}

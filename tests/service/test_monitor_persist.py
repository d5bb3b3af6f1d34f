"""The breaker rows the monitor's flush leaves in the database always equal the breakers' snapshots,
whether a flush rewrote the whole row or only the streak counters."""

from __future__ import annotations

import pytest

from daemon.service.monitor import snapshot_row
from daemon.store import state as store_state
from daemon.types import Status


@pytest.fixture
def spied(monkeypatch):
    """Which breaker writes the flushes made: ('row', ids) or ('counts', ids)."""
    calls: list[tuple[str, list[int]]] = []
    save_rows, save_counts = store_state.save_breakers, store_state.save_breaker_counts

    def rows(conn, items, now):
        items = list(items)
        calls.append(("row", sorted(cid for cid, _ in items)))
        save_rows(conn, items, now)

    def counts(conn, items, now):
        items = list(items)
        calls.append(("counts", sorted(cid for cid, _, _ in items)))
        return save_counts(conn, items, now)

    monkeypatch.setattr(store_state, "save_breakers", rows)
    monkeypatch.setattr(store_state, "save_breaker_counts", counts)
    return calls


def stored(h) -> dict[str, dict]:
    from daemon.store.sqlite import connect

    conn = connect(h.db_path, readonly=True)
    try:
        return store_state.load_breakers(conn)
    finally:
        conn.close()


def expected(h, name: str) -> dict:
    return snapshot_row(h.runtime.monitor.breakers[name].snapshot())


async def test_a_healthy_breakers_growing_success_count_is_stored_through_counters_only(harness, spied):
    h = harness()
    await h.start()
    monitor = h.runtime.monitor
    ids = monitor.component_ids
    h.result("a", Status.HEALTHY)
    await monitor._flush(counts=True)
    assert spied[-1] == ("row", sorted(ids.values()))  # first write: the whole row
    window = monitor.breakers["a"].spec.window
    for _ in range(window + 3):  # past a full window: only the success count still changes
        h.result("a", Status.HEALTHY)
        await monitor._flush(counts=True)
    assert spied[-1] == ("counts", [ids["a"]])
    assert stored(h)["a"] == expected(h, "a")
    assert stored(h)["a"]["consecutive_successes"] == window + 4


async def test_a_changed_window_or_state_rewrites_the_whole_row(harness, spied):
    h = harness()
    await h.start()
    monitor = h.runtime.monitor
    ids = monitor.component_ids
    h.result("a", Status.HEALTHY)
    await monitor._flush()
    h.result("a", Status.UNHEALTHY)  # the window gains a failure: not just a counter
    await monitor._flush()
    assert spied[-1] == ("row", [ids["a"]])
    assert stored(h)["a"] == expected(h, "a")
    for _ in range(monitor.breakers["a"].spec.consecutive_failures):
        h.result("a", Status.UNHEALTHY)
    await h.settled()
    await monitor._flush()
    assert monitor.breakers["a"].state.value == "open"
    assert stored(h)["a"] == expected(h, "a")


async def test_after_a_failed_counters_write_the_next_flush_rewrites_the_whole_row(harness, spied, monkeypatch):
    h = harness()
    await h.start()
    monitor = h.runtime.monitor
    ids = monitor.component_ids
    for _ in range(monitor.breakers["a"].spec.window + 1):
        h.result("a", Status.HEALTHY)
    await monitor._flush(counts=True)
    h.result("a", Status.HEALTHY)
    save_counts = store_state.save_breaker_counts

    def broken(conn, items, now):
        raise RuntimeError("this write fails")

    monkeypatch.setattr(store_state, "save_breaker_counts", broken)
    await monitor._flush(counts=True)  # fails (logged by the writer); nothing about it is trusted afterwards
    monkeypatch.setattr(store_state, "save_breaker_counts", save_counts)
    h.result("a", Status.HEALTHY)
    await monitor._flush(counts=True)
    assert spied[-1] == ("row", [ids["a"]])
    assert stored(h)["a"] == expected(h, "a")


async def test_a_breaker_row_that_went_missing_is_written_whole_again(harness, spied):
    h = harness()
    await h.start()
    monitor = h.runtime.monitor
    for _ in range(monitor.breakers["a"].spec.window + 1):
        h.result("a", Status.HEALTHY)
    await monitor._flush(counts=True)
    await monitor.writer.submit(
        lambda conn: conn.execute("DELETE FROM breakers WHERE component_id = ?", (monitor.component_ids["a"],))
    )
    h.result("a", Status.HEALTHY)
    await monitor._flush(counts=True)  # counters only would update nothing: the row comes back whole
    assert stored(h)["a"] == expected(h, "a")


async def test_a_counters_only_change_waits_for_counts_every_while_a_failure_is_written_at_once(harness, spied, clock):
    """Issue 11: a healthy breaker's success count is not worth one UPDATE per check; its state is."""
    from daemon.service.monitor import COUNTS_EVERY

    h = harness()
    await h.start()
    monitor = h.runtime.monitor
    ids = monitor.component_ids
    for _ in range(monitor.breakers["a"].spec.window + 1):
        h.result("a", Status.HEALTHY)
    await monitor._flush(counts=True)
    written = len(spied)
    h.result("a", Status.HEALTHY)
    await monitor._flush()
    assert len(spied) == written  # only the success count changed: not written yet
    assert stored(h)["a"]["consecutive_successes"] < monitor.breakers["a"].consecutive_successes

    clock.advance(COUNTS_EVERY)
    await monitor._flush()
    assert spied[-1] == ("counts", [ids["a"]]) and stored(h)["a"] == expected(h, "a")

    h.result("a", Status.HEALTHY)
    h.result("b", Status.UNHEALTHY)  # the window gains a failure: written with this flush
    await monitor._flush()
    assert spied[-1] == ("row", [ids["b"]])
    assert stored(h)["b"] == expected(h, "b")
    await monitor.stop(0)  # and at stop every counter is written
    assert stored(h)["a"] == expected(h, "a")


async def test_a_breaker_restored_open_goes_half_open_at_its_deadline_through_the_tick(harness, clock):
    """tick() looks only at breakers known to be open (issue 11); one restored open is one of them."""
    from daemon.engine.breaker import CircuitBreaker

    h = harness()
    await h.start()
    monitor = h.runtime.monitor
    opened = CircuitBreaker(monitor.breakers["a"].spec, clock)
    opened.force_open(5.0, reason="test")
    monitor.restore({"a": snapshot_row(opened.snapshot())})
    assert monitor.breakers["a"].state.value == "open"
    monitor.tick()
    assert monitor.breakers["a"].state.value == "open"
    clock.advance(6)
    monitor.tick()
    assert monitor.breakers["a"].state.value == "half_open"
    assert monitor.breakers["b"].state.value == "closed"


async def test_a_healthy_result_on_a_settled_breaker_waits_with_the_counters_and_any_other_result_does_not(
    harness, spied, clock
):
    """Issue 11: no snapshot and comparison per flush for a result that can change only the success count."""
    from daemon.service.monitor import COUNTS_EVERY

    h = harness()
    await h.start()
    monitor = h.runtime.monitor
    for _ in range(monitor.breakers["a"].spec.window):
        h.result("a", Status.HEALTHY)
    await monitor._flush(counts=True)
    assert monitor.breakers["a"].settled()
    h.result("a", Status.HEALTHY)
    assert "a" not in monitor._dirty and "a" in monitor._counts_later
    h.result("a", Status.DEGRADED)  # a slow result changes the window: looked at by the next flush
    assert "a" in monitor._dirty
    await monitor._flush()
    assert spied[-1] == ("row", [monitor.component_ids["a"]]) and stored(h)["a"] == expected(h, "a")

    for _ in range(monitor.breakers["a"].spec.window):
        h.result("a", Status.HEALTHY)
    await monitor._flush()
    written = len(spied)
    h.result("a", Status.HEALTHY)
    await monitor._flush()
    assert len(spied) == written  # the success count alone: not yet
    clock.advance(COUNTS_EVERY)
    await monitor._flush()
    assert stored(h)["a"] == expected(h, "a")

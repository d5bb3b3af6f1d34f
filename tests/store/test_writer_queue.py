"""The writer's queue rules, exactly: oldest results shed first, calls never, fair batches, flush order."""

from __future__ import annotations

import concurrent.futures

import pytest
from helpers import wait_until
from writer_kit import result

from daemon.store.writer_batch import Call
from daemon.store.writer_queue import WorkQueue


def call(flush_seq: int | None = None, fn=lambda conn: None) -> Call:
    return Call(None if flush_seq is not None else fn, 0.0, concurrent.futures.Future(), None, flush_seq=flush_seq)


def messages(items) -> list[str]:
    return [r.message for _t, r in items]


def test_a_full_queue_sheds_its_oldest_result_per_new_one():
    q = WorkQueue(max_queue=3, max_batch=10)
    for i in range(5):
        q.put_result(result("api", message=f"r{i}"))
    assert messages(q.results) == ["r2", "r3", "r4"]
    assert (q.shed, q.shed_unlogged) == (2, 2)
    assert q.take_shed_unlogged() == 2 and q.shed_unlogged == 0 and q.shed == 2


def test_calls_are_never_shed():
    q = WorkQueue(max_queue=1, max_batch=10)
    for _ in range(100):
        q.put_call(call())
    assert len(q.calls) == 100 and q.shed == 0


def test_a_failed_batch_goes_back_in_front_and_its_results_are_shed_first():
    q = WorkQueue(max_queue=4, max_batch=3)
    for i in range(4):
        q.put_result(result("api", message=f"r{i}"))
    first = q.put_call(call())
    assert first == 1
    calls, batch = q.wait_and_take(0)  # 1 call + 2 results (the batch holds 3 items)
    assert len(calls) == 1 and messages(batch) == ["r0", "r1"]
    for i in range(4, 7):  # arrive while the batch is in flight: queue r2..r6 → full at r2..r5, r6 sheds r2
        q.put_result(result("api", message=f"r{i}"))
    assert messages(q.results) == ["r3", "r4", "r5", "r6"] and q.shed == 1
    assert q.put_back(calls, batch)
    # The batch's results are older than anything queued: with the bound at 4 they are the ones shed.
    assert messages(q.results) == ["r3", "r4", "r5", "r6"]
    assert q.shed == 3
    assert q.calls[0] is calls[0]


def test_put_back_keeps_as_much_of_the_batch_as_fits():
    q = WorkQueue(max_queue=5, max_batch=3)
    for i in range(3):
        q.put_result(result("api", message=f"r{i}"))
    _calls, batch = q.wait_and_take(0)
    q.put_result(result("api", message="r3"))
    q.put_back([], batch)
    assert messages(q.results) == ["r0", "r1", "r2", "r3"] and q.shed == 0


def test_results_get_half_a_batch_even_under_a_flood_of_calls():
    q = WorkQueue(max_queue=100, max_batch=10)
    for _ in range(50):
        q.put_call(call())
    for i in range(50):
        q.put_result(result("api", message=f"r{i}"))
    calls, batch = q.wait_and_take(0)
    assert (len(calls), len(batch)) == (5, 5)


def test_calls_fill_the_batch_when_no_result_waits():
    q = WorkQueue(max_queue=100, max_batch=10)
    for _ in range(50):
        q.put_call(call())
    calls, batch = q.wait_and_take(0)
    assert (len(calls), len(batch)) == (10, 0)


def test_a_flush_is_ready_only_once_every_result_before_it_is_out_of_the_queue():
    q = WorkQueue(max_queue=100, max_batch=4)
    for i in range(6):
        q.put_result(result("api", message=f"r{i}"))
    marker = call(flush_seq=q.result_seq())
    q.put_call(marker)
    calls, batch = q.wait_and_take(0)
    assert calls == [marker] and len(batch) == 3  # r3..r5 are still queued
    assert q.ready_flushes([marker]) == []
    _calls, rest = q.wait_and_take(0)
    assert messages(rest) == ["r3", "r4", "r5"]
    assert q.ready_flushes([]) == [marker]


def test_a_closed_queue_refuses_work_and_hands_back_what_it_held():
    q = WorkQueue(max_queue=10, max_batch=10)
    q.put_result(result("api"))
    pending = call()
    q.put_call(pending)
    calls, lost = q.close_and_drain()
    assert calls == [pending] and lost == 1
    assert q.put_result(result("api")) is False
    assert q.put_call(call()) is None
    assert q.wait_and_take(0) is None
    assert q.lost == 2


def test_sizes_must_be_positive():
    with pytest.raises(ValueError):
        WorkQueue(max_queue=0, max_batch=1)


def _take_in_thread(q: WorkQueue) -> concurrent.futures.Future:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(q.wait_and_take, 1.0)
    pool.shutdown(wait=False)
    return future


def test_results_alone_linger_until_the_batch_is_full():
    q = WorkQueue(max_queue=100, max_batch=10, linger_s=60.0)  # a linger no test run would outlast
    q.put_result(result("api", message="r0"))
    taken = _take_in_thread(q)
    wait_until(lambda: q.lingering, message="the consumer never lingered")
    for i in range(1, 10):
        q.put_result(result("api", message=f"r{i}"))
    calls, results = taken.result(timeout=30)  # the 10th result filled the batch and ended the linger
    assert calls == [] and messages(results) == [f"r{i}" for i in range(10)]


def test_a_call_ends_the_linger_at_once_and_goes_out_with_the_waiting_results():
    q = WorkQueue(max_queue=100, max_batch=10, linger_s=60.0)
    q.put_result(result("api", message="r0"))
    taken = _take_in_thread(q)
    wait_until(lambda: q.lingering, message="the consumer never lingered")
    c = call()
    q.put_call(c)
    calls, results = taken.result(timeout=30)
    assert calls == [c] and messages(results) == ["r0"]


def test_without_linger_a_lone_result_is_taken_at_once():
    q = WorkQueue(max_queue=100, max_batch=10)
    q.put_result(result("api", message="r0"))
    calls, results = q.wait_and_take(1.0)
    assert calls == [] and messages(results) == ["r0"] and not q.lingering


def test_a_stop_with_nothing_queued_ends_the_wait_without_lingering():
    q = WorkQueue(max_queue=100, max_batch=10, linger_s=60.0)
    taken = _take_in_thread(q)
    wait_until(lambda: q.idle, message="the consumer never waited")
    q.wake(stopping=True)
    assert taken.result(timeout=30) is None  # nothing to write: time to exit (it used to raise IndexError)


class _CountingCondition:
    """The queue's Condition, recording each wait's timeout (to pin how the consumer sleeps)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.timeouts: list[float | None] = []

    def __enter__(self):
        return self.inner.__enter__()

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)

    def wait(self, timeout=None):
        self.timeouts.append(timeout)
        return self.inner.wait(timeout)

    def notify(self, n=1):
        self.inner.notify(n)


def test_an_idle_consumer_sleeps_until_work_comes_and_the_first_result_wakes_it():
    """No polling while idle (it was 20 wake-ups a second with a 50 ms linger): the consumer's idle
    wait is the long `wake_every`, the first result wakes it, and it then lingers for company."""
    q = WorkQueue(max_queue=100, max_batch=10, linger_s=0.05)
    q.cond = counting = _CountingCondition(q.cond)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        taken = pool.submit(q.wait_and_take, 600.0)
        wait_until(lambda: q.idle, timeout=10)
        q.put_result(result("api", message="first"))
        calls, results = taken.result(timeout=10)  # woken, not left to sleep out its 600 s
    assert calls == [] and messages(results) == ["first"]
    assert counting.timeouts[0] == 600.0
    assert all(t is not None and t <= 0.05 for t in counting.timeouts[1:])  # the linger after waking


def test_a_deferred_wake_up_reaches_an_idle_consumer_only_when_the_loop_runs_it():
    """From the event loop's thread the writer is woken by a call_soon callback, i.e. once the
    scheduler job starting a burst of checks has finished, not in the middle of it; one callback per
    batch however many results come."""
    q = WorkQueue(max_queue=100, max_batch=10, linger_s=0.0)
    scheduled: list = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        taken = pool.submit(q.wait_and_take, 600.0)
        wait_until(lambda: q.idle, timeout=10)
        q.put_result(result("api", message="a"), scheduled.append)
        q.put_result(result("api", message="b"), scheduled.append)
        assert len(scheduled) == 1 and not taken.done()
        scheduled[0]()
        calls, results = taken.result(timeout=10)
    assert calls == [] and messages(results) == ["a", "b"]
    assert not q.wake_deferred

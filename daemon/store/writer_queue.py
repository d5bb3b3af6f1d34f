"""The writer's two queues and the one rule about them: results are shed oldest first, calls never.

Shared by the event loop (producers) and the writer thread (the only consumer) under one plain Lock,
held only for deque operations — never across database work — so `submit_result` on the loop never
waits for SQLite.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from daemon.store.writer_batch import Call
from daemon.types import CheckResult

QueuedResult = tuple[float, CheckResult]  # (monotonic enqueue time, result)


class WorkQueue:
    def __init__(self, max_queue: int, max_batch: int, linger_s: float = 0.0) -> None:
        if max_queue < 1 or max_batch < 1:
            raise ValueError("max_queue and max_batch must be positive")
        self.max_queue = max_queue
        self.max_batch = max_batch
        #: how long a batch of results alone may wait for more (see wait_and_take)
        self.linger_s = linger_s
        self.lingering = False  # the consumer waits for a fuller batch: only a call or a full batch wakes it
        # A plain Lock, not the default RLock: submit_result takes it on every call from the loop.
        self.cond = threading.Condition(threading.Lock())
        self.results: deque[QueuedResult] = deque()
        self.calls: deque[Call] = deque()
        # Results ever enqueued. The queue always holds the contiguous newest ones (put-back goes to
        # the front), i.e. seqs `seq - len(results) + 1 … seq`: that is what `frontier` relies on.
        self.seq = 0
        self.shed = 0
        self.shed_unlogged = 0
        self.lost = 0  # results refused or dropped because the writer had stopped
        self.idle = False  # the consumer waits for work: producers must notify
        self.wake_deferred = False  # a deferred wake-up of the idle consumer is scheduled (put_result)
        self.stopping = False  # drain what is queued, then exit
        self.closed = False  # take nothing more; producers are refused
        self.flushes: list[Call] = []  # committed flush markers waiting for older results

    # --- producers --------------------------------------------------------------------------------------

    def put_result(self, result: CheckResult, defer_wake: Callable[[Callable[[], None]], Any] | None = None) -> bool:
        """Queue `result`, shedding the oldest when full; False if the queue is closed.

        `defer_wake` (the event loop's `call_soon`, from the loop's thread): an idle consumer is woken by
        the callback it schedules rather than at once, i.e. after the scheduler job that is starting a
        burst of checks has finished it. Woken at once, the writer thread competed for the GIL with the
        rest of the burst; it lingers for company afterwards anyway.
        """
        with self.cond:
            if self.closed:
                self.lost += 1
                return False
            if len(self.results) >= self.max_queue:
                self.results.popleft()
                self.shed += 1
                self.shed_unlogged += 1
            self.results.append((time.monotonic(), result))
            self.seq += 1
            # One cross-thread wake-up per batch, not per result: only an idle consumer is woken (it then
            # lingers for company without being woken again), and a lingering one only by a full batch.
            # An idle consumer used to poll every linger_s instead: 20 wake-ups a second with nothing
            # to do, a quarter of an idle daemon's CPU.
            full = len(self.results) >= self.max_batch
            if self.idle and defer_wake is not None and not full:
                if not self.wake_deferred:
                    try:
                        defer_wake(self._deferred_wake)
                    except RuntimeError:  # the loop is closed: wake now
                        self.cond.notify()
                    else:
                        self.wake_deferred = True
            elif self.idle or (self.lingering and full):
                self.cond.notify()
            return True

    def _deferred_wake(self) -> None:
        with self.cond:
            self.wake_deferred = False
            if self.idle:
                self.cond.notify()

    def put_call(self, call: Call) -> int | None:
        """Queue `call` (never shed); the number of calls now waiting, or None if closed."""
        with self.cond:
            if self.closed:
                return None
            self.calls.append(call)
            if self.idle or self.lingering:
                self.cond.notify()
            return len(self.calls)

    def result_seq(self) -> int:
        with self.cond:
            return self.seq

    # --- the consumer -----------------------------------------------------------------------------------

    def wait_and_take(
        self, wake_every: float, due: float | None = None
    ) -> tuple[list[Call], list[QueuedResult]] | None:
        """Block until there is work; the next batch, or None when it is time to exit.

        `due` (a time.monotonic() instant): an idle consumer returns an empty batch then, for work of
        its own (the writer folds its last results into the rollups though nothing else comes).

        Calls come first (someone awaits them); results always get at least half a batch when they
        are waiting, so a flood of calls cannot starve them into shedding.

        Results alone linger up to `linger_s` for company: they are fire-and-forget, so nobody waits
        on them, and one transaction per result (7,066 commits for 7,612 results at 200 checks/s) was
        most of the writer's CPU. A call (someone awaits it), a full batch or a stop ends the linger at
        once, so must-not-lose writes are never delayed by it.
        """
        with self.cond:
            while not self.results and not self.calls and not self.stopping and not self.closed:
                wait = wake_every
                if due is not None:
                    wait = min(wait, due - time.monotonic())
                    if wait <= 0:
                        return [], []
                self.idle = True
                self.cond.wait(wait)
                self.idle = False
            if (
                self.linger_s > 0
                and self.results
                and not self.calls
                and len(self.results) < self.max_batch
                and not self.stopping
                and not self.closed
            ):
                # counted from the oldest queued result: none waits much longer than linger_s
                deadline = self.results[0][0] + self.linger_s
                self.lingering = True
                try:
                    while (
                        not self.calls
                        and len(self.results) < self.max_batch
                        and not self.stopping
                        and not self.closed
                        and (left := deadline - time.monotonic()) > 0
                    ):
                        self.cond.wait(left)
                finally:
                    self.lingering = False
            if self.closed or not (self.results or self.calls):
                return None
            call_room = self.max_batch - min(len(self.results), self.max_batch // 2 or 1)
            calls = [self.calls.popleft() for _ in range(min(call_room, len(self.calls)))]
            room = self.max_batch - len(calls)
            results = [self.results.popleft() for _ in range(min(room, len(self.results)))]
            return calls, results

    def put_back(self, calls: list[Call], results: list[QueuedResult]) -> bool:
        """Return a failed batch to the front; False (nothing returned) if the queue is closed.

        The batch is older than anything queued, so when the bound is exceeded its results are the
        first to be shed.
        """
        with self.cond:
            if self.closed:
                self.lost += len(results)
                return False
            self.calls.extendleft(reversed(calls))
            overflow = len(results) + len(self.results) - self.max_queue
            if overflow > 0:
                from_batch = min(overflow, len(results))
                results = results[from_batch:]
                for _ in range(overflow - from_batch):
                    self.results.popleft()
                self.shed += overflow
                self.shed_unlogged += overflow
            self.results.extendleft(reversed(results))
            return True

    def flush_waiting(self) -> bool:
        """A flush marker is parked, waiting for results not yet committed."""
        with self.cond:
            return bool(self.flushes)

    def ready_flushes(self, committed: list[Call]) -> list[Call]:
        """Of the flush markers just committed and those parked before, the ones now satisfied.

        Right after a commit nothing is in flight, so every result up to `seq - len(results)` is
        durable or shed; markers waiting for a later result stay parked.
        """
        with self.cond:
            frontier = self.seq - len(self.results)
            waiting = self.flushes + committed
            self.flushes = [c for c in waiting if (c.flush_seq or 0) > frontier]
            return [c for c in waiting if (c.flush_seq or 0) <= frontier]

    def wait(self, seconds: float) -> None:
        """Sleep for a backoff; `wake()` (stop, abort) cuts it short, submissions do not."""
        with self.cond:
            if not self.closed:
                self.cond.wait(seconds)

    def wake(self, *, stopping: bool = False, close: bool = False) -> None:
        with self.cond:
            self.stopping = self.stopping or stopping
            self.closed = self.closed or close
            self.cond.notify_all()

    def take_shed_unlogged(self) -> int:
        with self.cond:
            count, self.shed_unlogged = self.shed_unlogged, 0
            return count

    def close_and_drain(self) -> tuple[list[Call], int]:
        """Refuse new work; the calls still queued and how many results were left (to fail/count)."""
        with self.cond:
            self.closed = True
            calls, self.calls = list(self.calls) + self.flushes, deque()
            self.flushes = []
            lost = len(self.results)
            self.lost += lost
            self.results.clear()
            return calls, lost

    def depth(self) -> tuple[int, int]:
        with self.cond:
            return len(self.results), len(self.calls)

"""The single writer: one thread owns healerd's only read-write connection and group-commits.

Why one thread and not an asyncio task: sqlite3 blocks, and a blocked event loop would stop checks,
breakers and the systemd watchdog. Why group commit: the reference measured ~140,000 rows/s for a
thread that commits whatever is queued (≤ 1,000 rows) against ~24,000 for one commit per row, and
found that lingering before a commit only made waiting producers slower. So the thread never lingers
for a call: it commits everything queued as soon as it is free, at most `max_batch` items per
transaction, and whatever arrives meanwhile goes into the next one. Results alone (fire-and-forget,
nobody waits) linger up to `LINGER_S` for company: at 200 checks/s that turns ~200 commits a second
into two or three (one per scheduler firing), and a call arriving meanwhile ends the linger at once.
An idle writer is woken by the first result of a batch, not by a poll.

Two kinds of work, two promises:

* check results (`submit_result`) are fire-and-forget and *sheddable*: they wait in a bounded queue,
  and while the database is unavailable the oldest are dropped first, counted and logged, so memory
  stays bounded however long the outage lasts;
* calls (`submit(fn)`) are must-not-lose writes — breaker transitions, recovery intent, operator
  outcomes. They are never shed; their future resolves after COMMIT, so `await` means durable.

When the database is locked, full, read-only or failing I/O, the thread keeps the batch, backs off
(bounded exponential) and retries until it succeeds; nothing on the event loop waits for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from daemon.errors import StoreError
from daemon.store import sqlite as store_sqlite
from daemon.store.writer_batch import Call, CommitOutcome, WriterStats, execute_batch, is_unavailable, percentile
from daemon.store.writer_queue import QueuedResult, WorkQueue
from daemon.types import CheckResult

log = structlog.get_logger(__name__)

#: Seconds between two log lines about the same ongoing condition (shedding, outage, backlog).
LOG_EVERY_S = 5.0
#: Must-not-lose calls waiting beyond this many get a (rate-limited) warning: they are never shed.
CALL_BACKLOG_WARN = 10_000
#: Results alone wait up to this long for a fuller batch (calls never wait): see WorkQueue.wait_and_take.
LINGER_S = 0.05
#: Seconds between two folds of the written results into the hourly rollups (results_sql.fold_rollups);
#: a flush and the writer's stop fold at once. Reports read the rollups up to this much behind.
ROLLUPS_EVERY_S = 10.0
#: How many recent enqueue→durable latencies the percentiles in `stats()` are computed over.
LATENCY_SAMPLES = 10_000


class Writer:
    """Owns the write connection to `path`; see the module docstring for the two promises."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_queue: int = 50_000,
        max_batch: int = 1_000,
        retry_base_s: float = 0.05,
        retry_cap_s: float = 2.0,
        busy_timeout_ms: int | None = None,
        linger_s: float = LINGER_S,
        rollups_every_s: float = ROLLUPS_EVERY_S,
    ) -> None:
        self.path = os.fspath(path)
        self._queue = WorkQueue(max_queue, max_batch, linger_s)
        self.max_queue, self.max_batch = max_queue, max_batch
        self._retry_base, self._retry_cap = retry_base_s, retry_cap_s
        self._busy_timeout_ms = busy_timeout_ms
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._exited: asyncio.Event | None = None
        self._conn: sqlite3.Connection | None = None
        self._component_ids: dict[str, int] = {}
        # Counters written by the writer thread only (the queue keeps its own under its lock).
        self.written = self.dropped_unknown = self.rejected = 0
        self.calls_done = self.calls_failed = 0
        self.batches = self.retries = 0
        self.db_available = True
        self.last_error: str | None = None
        self._result_latency: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._call_latency: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._last_log: dict[str, float] = {}
        self._unknown_names: set[str] = set()
        self._rollups_every = rollups_every_s
        #: monotonic instant of the last fold (or attempt) into the rollups; None: not yet (the first batch folds)
        self._folded_at: float | None = None
        #: results may be above the rollups' mark (at start: a killed daemon may have left some)
        self._unfolded = True

    # --- lifecycle (event loop side) ------------------------------------------------------------------

    async def start(self) -> None:
        if self._thread is not None:
            raise StoreError("writer already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._exited = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="healerd-writer", daemon=True)
        self._thread.start()

    async def stop(self, timeout: float = 10.0) -> None:
        """Commit everything queued, then close; after `timeout` give up and fail what is left.

        A bounded stop matters under systemd: a database that stays locked must not turn SIGTERM into
        a SIGKILL after TimeoutStopSec. What could not be written is counted and logged.
        """
        if self._thread is None or self._exited is None:
            self._fail_leftovers()
            return
        self._queue.wake(stopping=True)
        try:
            await asyncio.wait_for(self._exited.wait(), timeout)
        except TimeoutError:
            self._queue.wake(close=True)
            conn = self._conn
            if conn is not None:
                try:
                    conn.interrupt()  # documented as safe from another thread
                except sqlite3.Error:
                    pass
            try:
                await asyncio.wait_for(self._exited.wait(), 1.0)
            except TimeoutError:
                log.error("writer.stop_timed_out", path=self.path, timeout_s=timeout)
        self._fail_leftovers()

    # --- submissions (any thread; never block on the database) -----------------------------------------

    def submit_result(self, result: CheckResult) -> None:
        """Queue one result; sheds the oldest queued result when the queue is full."""
        loop = self._loop
        # on the loop's own thread the wake-up of an idle writer waits for the current callback to end
        defer = loop.call_soon if loop is not None and threading.get_ident() == self._loop_thread else None
        self._queue.put_result(result, defer)  # refused (and counted as lost) only after stop()

    def submit(self, fn: Callable[[sqlite3.Connection], Any]) -> asyncio.Future:
        """Run `fn(conn)` in the next batch transaction; the future resolves with its value after COMMIT.

        `fn` runs on the writer thread inside the batch transaction. If it raises, the batch is rolled
        back and re-run one item per transaction, so only `fn`'s future gets the exception. `fn` may
        thus run more than once (also when the database was unavailable and the batch is retried):
        it must do nothing but database work. Cancelling the future does not cancel the write.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._enqueue_call(Call(fn, time.monotonic(), future, loop))
        return future

    def submit_threadsafe(self, fn: Callable[[sqlite3.Connection], Any]) -> concurrent.futures.Future:
        """`submit` for code on another thread: a concurrent.futures.Future, `.result(timeout)` to wait."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._enqueue_call(Call(fn, time.monotonic(), future, None))
        return future

    def flush(self) -> asyncio.Future:
        """Resolves once everything submitted before it is durable (or, for results, was shed)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._enqueue_call(Call(None, time.monotonic(), future, loop, flush_seq=self._queue.result_seq()))
        return future

    def _enqueue_call(self, call: Call) -> None:
        backlog = self._queue.put_call(call)
        if backlog is None:
            call.settle(StoreError("the writer has stopped; nothing was written"), ok=False)
        elif backlog > CALL_BACKLOG_WARN and self._due("backlog"):
            log.warning("writer.call_backlog", queued_calls=backlog, db_available=self.db_available)

    def forget_component_ids(self) -> None:
        """Drop cached name → id lookups (call after components were renamed or deleted)."""
        self._component_ids = {}

    def stats(self) -> WriterStats:
        queued_results, queued_calls = self._queue.depth()
        result_lat, call_lat = sorted(self._result_latency.copy()), sorted(self._call_latency.copy())
        return WriterStats(
            written=self.written,
            shed=self._queue.shed,
            dropped_unknown=self.dropped_unknown,
            rejected=self.rejected,
            calls_done=self.calls_done,
            calls_failed=self.calls_failed,
            lost_on_stop=self._queue.lost,
            batches=self.batches,
            retries=self.retries,
            result_latency_p50_ms=percentile(result_lat, 0.50),
            result_latency_p99_ms=percentile(result_lat, 0.99),
            call_latency_p50_ms=percentile(call_lat, 0.50),
            call_latency_p99_ms=percentile(call_lat, 0.99),
            queued_results=queued_results,
            queued_calls=queued_calls,
            db_available=self.db_available,
            last_error=self.last_error,
        )

    # --- the writer thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        outage_started = 0.0
        try:
            while (batch := self._queue.wait_and_take(LOG_EVERY_S, self._fold_due())) is not None:
                calls, results = batch
                self._log_shed()
                try:
                    outcome = self._write(calls, results)
                except Exception as exc:
                    if not is_unavailable(exc):
                        # Not the file's fault: some item is bad. Find it instead of retrying forever.
                        log.warning("writer.batch_failed_isolating_items", error=repr(exc))
                        leftover = self._isolate(calls, results)
                        if leftover is None:
                            continue
                        calls, results, exc = leftover
                    failures += 1
                    if failures == 1:
                        outage_started = time.monotonic()
                    self._on_failure(exc, calls, results, failures)
                    self._queue.wait(min(self._retry_cap, self._retry_base * 2 ** min(failures - 1, 30)))
                    continue
                if failures:
                    log.info(
                        "writer.db_resumed",
                        path=self.path,
                        outage_s=round(time.monotonic() - outage_started, 3),
                        attempts=failures,
                    )
                    failures = 0
                self.db_available = True
                self._committed(calls, results, outcome)
            self._fold_at_stop()
        finally:
            self._close()
            self._log_shed(force=True)
            loop, exited = self._loop, self._exited
            if loop is not None and exited is not None:
                try:
                    loop.call_soon_threadsafe(exited.set)
                except RuntimeError:  # the loop is already closed
                    pass

    def _isolate(self, calls: list[Call], results: list[QueuedResult]):
        """Write a poisoned batch item by item: each call alone, then the results together.

        A call that still fails gets its exception; results that still fail are counted as rejected.
        Returns what is left (and the error) if the database becomes unavailable meanwhile.
        """
        for index, call in enumerate(calls):
            try:
                outcome = self._write([call], [], fold=False)
            except Exception as exc:
                if is_unavailable(exc):
                    return calls[index:], results, exc
                outcome = CommitOutcome([(call, exc, False)], 0, 0, set(), 0)
            self._committed([call], [], outcome)
        try:
            outcome = self._write([], results, isolate_rows=True)
        except Exception as exc:
            if is_unavailable(exc):
                return [], results, exc
            self.rejected += len(results)
            log.error("writer.results_rejected", rejected=len(results), error=repr(exc))
            outcome = CommitOutcome([], 0, 0, set(), 0)
        self._committed([], results, outcome)
        self.db_available = True
        return None

    def _fold_due(self) -> float | None:
        """When the written results should next be folded into the rollups (None: nothing to fold)."""
        if not self._unfolded:
            return None
        return 0.0 if self._folded_at is None else self._folded_at + self._rollups_every

    def _fold_at_stop(self) -> None:
        """A clean stop leaves the rollups complete; if it cannot, the next start folds the rest."""
        if not self._unfolded or self._queue.closed:
            return  # closed: stop() gave up waiting, so no new work
        try:
            self._write([], [], fold=True)
        except Exception as exc:
            log.warning("writer.rollups_not_folded_at_stop", path=self.path, error=repr(exc))

    def _write(
        self,
        calls: list[Call],
        results: list[QueuedResult],
        *,
        isolate_rows: bool = False,
        fold: bool | None = None,
    ) -> CommitOutcome:
        if fold is None:
            # due, or someone flushes (a flush means: what I submitted is in every report)
            due = self._fold_due()
            fold = (
                not isolate_rows
                and (self._unfolded or bool(results))
                and (
                    (due is not None and time.monotonic() >= due)
                    or self._folded_at is None
                    or any(c.fn is None for c in calls)
                    or self._queue.flush_waiting()  # its results may be in this batch
                )
            )
        if not results and all(c.fn is None for c in calls) and not fold:
            return CommitOutcome([(c, None, True) for c in calls], 0, 0, set(), 0, transaction=False)
        if self._conn is None:
            conn = store_sqlite.connect(self.path)
            if self._busy_timeout_ms is not None:
                # The writer's own wait for a competing lock; after it a batch is retried with backoff.
                conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            self._conn = conn
        ids = self._component_ids
        if fold:
            # counted from the attempt: a fold that fails (its batch is retried or isolated without
            # it) is tried again in ROLLUPS_EVERY_S, not in a loop
            self._folded_at = time.monotonic()
        outcome = execute_batch(self._conn, calls, results, ids, isolate_rows=isolate_rows, fold=fold)
        if outcome.rejected:
            ids.clear()  # a stale id may be why a row was refused
        if outcome.folded:
            self._unfolded = False
        elif outcome.written:
            self._unfolded = True
        return outcome

    def _committed(self, calls: list[Call], results: list[QueuedResult], outcome: CommitOutcome) -> None:
        now = time.monotonic()
        self.batches += outcome.transaction
        self.written += outcome.written
        self.rejected += outcome.rejected
        self._result_latency.extend(now - t for t, _ in results)
        self._call_latency.extend(now - c.enqueued for c in calls if c.fn is not None)
        if outcome.unknown:
            self.dropped_unknown += outcome.unknown
            self._unknown_names |= outcome.unknown_names
            if self._due("unknown"):
                log.warning(
                    "writer.results_for_unknown_components_dropped",
                    names=sorted(self._unknown_names)[:20],
                    dropped_total=self.dropped_unknown,
                )
                self._unknown_names = set()
        if outcome.rejected and self._due("rejected"):
            log.error("writer.results_rejected", rejected_total=self.rejected, last_error=outcome.error)
        settle = [item for item in outcome.settled if item[0].fn is not None]
        for call, value, ok in settle:
            if ok:
                self.calls_done += 1
            else:
                self.calls_failed += 1
                log.error("writer.call_failed", error=repr(value), fn=getattr(call.fn, "__qualname__", repr(call.fn)))
        markers = [call for call, _, _ in outcome.settled if call.fn is None]
        settle += [(c, None, True) for c in self._queue.ready_flushes(markers)]
        Call.settle_many(settle)

    def _on_failure(self, exc: BaseException, calls: list[Call], results: list[QueuedResult], n: int) -> None:
        self.db_available = False
        self.retries += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if n == 1 or self._due("outage"):
            queued_results, queued_calls = self._queue.depth()
            log.warning(
                "writer.db_unavailable",
                path=self.path,
                error=self.last_error,
                attempts=n,
                queued_results=queued_results + len(results),
                queued_calls=queued_calls + len(calls),
                exc_info=not is_unavailable(exc),
            )
        code = getattr(exc, "sqlite_errorname", "") or ""
        if not code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL")):
            self._close()  # I/O errors, a moved or replaced file: start over with a fresh connection
        if not self._queue.put_back(calls, results):  # stop() gave up waiting: fail them here
            Call.settle_many([(c, StoreError("writer stopped before this was written"), False) for c in calls])

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _log_shed(self, force: bool = False) -> None:
        if self._queue.shed_unlogged and (force or self._due("shed")):
            log.warning(
                "writer.results_shed",
                shed=self._queue.take_shed_unlogged(),
                shed_total=self._queue.shed,
                max_queue=self.max_queue,
                db_available=self.db_available,
            )

    def _due(self, what: str) -> bool:
        """Rate limit: True at most once per LOG_EVERY_S for each kind of ongoing condition."""
        now = time.monotonic()
        if now - self._last_log.get(what, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_log[what] = now
            return True
        return False

    def _fail_leftovers(self) -> None:
        calls, lost = self._queue.close_and_drain()
        if calls or lost:
            log.error("writer.stopped_with_unwritten_work", results_lost=lost, calls_failed=len(calls))
        Call.settle_many([(c, StoreError("writer stopped before this was written"), False) for c in calls])

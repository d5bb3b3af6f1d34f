"""The single writer: one thread owns healerd's only read-write connection and group-commits.

Why one thread and not an asyncio task: sqlite3 blocks, and a blocked event loop would stop checks,
breakers and the systemd watchdog. Why group commit: the reference measured ~140,000 rows/s for a
thread that commits whatever is queued (≤ 1,000 rows) against ~24,000 for one commit per row, and
found that lingering before a commit only made waiting producers slower. So the thread never lingers:
it commits everything queued as soon as it is free, at most `max_batch` items per transaction, and
whatever arrives meanwhile goes into the next one.

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
from daemon.types import CheckResult

log = structlog.get_logger(__name__)

#: Seconds between two log lines about the same ongoing condition (shedding, outage, backlog).
LOG_EVERY_S = 5.0
#: Must-not-lose calls waiting beyond this many get a (rate-limited) warning: they are never shed.
CALL_BACKLOG_WARN = 10_000
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
    ) -> None:
        if max_queue < 1 or max_batch < 1:
            raise ValueError("max_queue and max_batch must be positive")
        self.path = os.fspath(path)
        self.max_queue = max_queue
        self.max_batch = max_batch
        self._retry_base = retry_base_s
        self._retry_cap = retry_cap_s
        self._busy_timeout_ms = busy_timeout_ms
        # A plain Lock, not the default RLock: submit_result takes it on every call from the loop.
        self._cond = threading.Condition(threading.Lock())
        self._results: deque[tuple[float, CheckResult]] = deque()
        self._calls: deque[Call] = deque()
        self._seq = 0  # results ever enqueued; the queue holds seqs (_seq - len + 1 .. _seq)
        self._pending_flushes: list[Call] = []
        self._idle = False
        self._stopping = False
        self._aborted = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exited: asyncio.Event | None = None
        self._conn: sqlite3.Connection | None = None
        self._component_ids: dict[str, int] = {}
        # counters (written by the thread, or under the lock; read without it by stats())
        self.written = 0
        self.shed = 0
        self._shed_unlogged = 0
        self.dropped_unknown = 0
        self.rejected = 0
        self.calls_done = 0
        self.calls_failed = 0
        self.lost_on_stop = 0
        self.batches = 0
        self.retries = 0
        self.db_available = True
        self.last_error: str | None = None
        self._result_latency: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._call_latency: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._last_log: dict[str, float] = {}
        self._unknown_names: set[str] = set()

    # --- lifecycle (event loop side) ------------------------------------------------------------------

    async def start(self) -> None:
        if self._thread is not None:
            raise StoreError("writer already started")
        self._loop = asyncio.get_running_loop()
        self._exited = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="healerd-writer", daemon=True)
        self._thread.start()

    async def stop(self, timeout: float = 10.0) -> None:
        """Commit everything queued, then close; after `timeout` give up and fail what is left.

        A bounded stop matters under systemd: a database that stays locked must not turn SIGTERM into
        a SIGKILL after TimeoutStopSec. What could not be written is counted and logged.
        """
        if self._thread is None or self._exited is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify()
        try:
            await asyncio.wait_for(self._exited.wait(), timeout)
        except TimeoutError:
            with self._cond:
                self._aborted = True
                self._cond.notify()
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
        with self._cond:
            if self._aborted:  # after stop(): nobody will write it
                self.lost_on_stop += 1
                return
            if len(self._results) >= self.max_queue:
                self._results.popleft()
                self.shed += 1
                self._shed_unlogged += 1
            self._results.append((time.monotonic(), result))
            self._seq += 1
            if self._idle:
                self._cond.notify()

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
        with self._cond:
            seq = self._seq
        self._enqueue_call(Call(None, time.monotonic(), future, loop, flush_seq=seq))
        return future

    def _enqueue_call(self, call: Call) -> None:
        with self._cond:
            if self._aborted:
                call.settle(StoreError("the writer has stopped; nothing was written"), ok=False)
                return
            self._calls.append(call)
            backlog = len(self._calls)
            if self._idle:
                self._cond.notify()
        if backlog > CALL_BACKLOG_WARN and self._due("backlog"):
            log.warning("writer.call_backlog", queued_calls=backlog, db_available=self.db_available)

    def forget_component_ids(self) -> None:
        """Drop cached name → id lookups (call after components were renamed or deleted)."""
        with self._cond:
            self._component_ids = {}

    def stats(self) -> WriterStats:
        with self._cond:
            queued_results, queued_calls = len(self._results), len(self._calls)
            result_lat = sorted(self._result_latency)
            call_lat = sorted(self._call_latency)
        return WriterStats(
            written=self.written,
            shed=self.shed,
            dropped_unknown=self.dropped_unknown,
            rejected=self.rejected,
            calls_done=self.calls_done,
            calls_failed=self.calls_failed,
            lost_on_stop=self.lost_on_stop,
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
            while True:
                with self._cond:
                    while not self._results and not self._calls and not self._stopping:
                        self._idle = True
                        self._cond.wait(LOG_EVERY_S)
                        self._idle = False
                    if self._aborted or not (self._results or self._calls):
                        break
                    calls, results = self._take_locked()
                self._log_shed()
                try:
                    outcome = self._write(calls, results)
                except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure
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
                    self._backoff(failures)
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
        finally:
            self._close()
            self._log_shed(force=True)
            loop, exited = self._loop, self._exited
            if loop is not None and exited is not None:
                try:
                    loop.call_soon_threadsafe(exited.set)
                except RuntimeError:  # the loop is already closed
                    pass

    def _isolate(self, calls: list[Call], results: list[tuple[float, CheckResult]]):
        """Write a poisoned batch item by item: each call alone, then the results together.

        A call that still fails gets its exception; results that still fail are counted as rejected.
        Returns what is left (and the error) if the database becomes unavailable meanwhile.
        """
        for index, call in enumerate(calls):
            try:
                outcome = self._write([call], [])
            except Exception as exc:  # noqa: BLE001
                if is_unavailable(exc):
                    return calls[index:], results, exc
                outcome = CommitOutcome([(call, exc, False)], 0, 0, set(), 0)
            self._committed([call], [], outcome)
        try:
            outcome = self._write([], results)
        except Exception as exc:  # noqa: BLE001
            if is_unavailable(exc):
                return [], results, exc
            self.rejected += len(results)
            log.error("writer.results_rejected", rejected=len(results), error=repr(exc))
            outcome = CommitOutcome([], 0, 0, set(), 0)
        self._committed([], results, outcome)
        return None

    def _take_locked(self) -> tuple[list[Call], list[tuple[float, CheckResult]]]:
        """The next batch: calls first (they are what someone awaits), results fill the rest.

        Results always get at least half a batch when they are waiting, so a flood of calls cannot
        starve them into shedding.
        """
        half = self.max_batch // 2 or 1
        call_room = self.max_batch - min(len(self._results), half)
        calls = [self._calls.popleft() for _ in range(min(call_room, len(self._calls)))]
        room = self.max_batch - len(calls)
        results = [self._results.popleft() for _ in range(min(room, len(self._results)))]
        return calls, results

    def _write(self, calls: list[Call], results: list[tuple[float, CheckResult]]) -> CommitOutcome:
        if not results and all(c.fn is None for c in calls):
            return CommitOutcome([(c, None, True) for c in calls], 0, 0, set(), 0)
        conn = self._connection()
        outcome = execute_batch(conn, calls, results, self._component_ids)
        if outcome.rejected:
            self._component_ids.clear()  # a stale id may be why a row was refused
        return outcome

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = store_sqlite.connect(self.path)
            if self._busy_timeout_ms is not None:
                # The writer's own wait for a competing lock; after it a batch is retried with backoff.
                conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            self._conn = conn
        return self._conn

    def _committed(self, calls: list[Call], results: list[tuple[float, CheckResult]], outcome: CommitOutcome) -> None:
        now = time.monotonic()
        self.batches += 1
        self.written += outcome.written
        self.rejected += outcome.rejected
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
        with self._cond:
            self._result_latency.extend(now - t for t, _ in results)
            self._call_latency.extend(now - c.enqueued for c in calls if c.fn is not None)
            frontier = self._seq - len(self._results)  # every result up to here is durable or shed
            waiting = self._pending_flushes
            self._pending_flushes = []
        for call, value, ok in outcome.settled:
            if call.fn is None:
                waiting.append(call)
                continue
            if ok:
                self.calls_done += 1
            else:
                self.calls_failed += 1
                log.error("writer.call_failed", error=repr(value), fn=getattr(call.fn, "__qualname__", repr(call.fn)))
        settle = [(c, v, ok) for c, v, ok in outcome.settled if c.fn is not None]
        still = [c for c in waiting if c.flush_seq is not None and c.flush_seq > frontier]
        settle += [(c, None, True) for c in waiting if c not in still]
        with self._cond:
            self._pending_flushes.extend(still)
        Call.settle_many(settle)

    def _on_failure(self, exc: BaseException, calls: list[Call], results: list[tuple[float, CheckResult]], n: int) -> None:
        self.db_available = False
        self.retries += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        transient = is_unavailable(exc)
        if n == 1 or self._due("outage"):
            log.warning(
                "writer.db_unavailable",
                path=self.path,
                error=self.last_error,
                attempts=n,
                queued_results=len(self._results) + len(results),
                queued_calls=len(self._calls) + len(calls),
                exc_info=not transient,
            )
        code = getattr(exc, "sqlite_errorname", "") or ""
        if not code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL")):
            self._close()  # I/O errors, a moved or replaced file: start over with a fresh connection
        with self._cond:
            if self._aborted:
                self.lost_on_stop += len(results)
                Call.settle_many([(c, StoreError("writer stopped before this was written"), False) for c in calls])
                return
            self._calls.extendleft(reversed(calls))
            overflow = len(results) + len(self._results) - self.max_queue
            if overflow > 0:  # the batch is older than anything queued: it is shed first
                from_batch = min(overflow, len(results))
                results = results[from_batch:]
                for _ in range(overflow - from_batch):
                    self._results.popleft()
                self.shed += overflow
                self._shed_unlogged += overflow
            self._results.extendleft(reversed(results))

    def _backoff(self, failures: int) -> None:
        delay = min(self._retry_cap, self._retry_base * (2 ** min(failures - 1, 30)))
        with self._cond:
            if not self._aborted:
                self._cond.wait(delay)  # stop() and abort wake it early; submissions do not

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _log_shed(self, force: bool = False) -> None:
        if self._shed_unlogged and (force or self._due("shed")):
            with self._cond:
                count, self._shed_unlogged = self._shed_unlogged, 0
            log.warning(
                "writer.results_shed",
                shed=count,
                shed_total=self.shed,
                max_queue=self.max_queue,
                db_available=self.db_available,
            )

    def _due(self, what: str) -> bool:
        now = time.monotonic()
        if now - self._last_log.get(what, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_log[what] = now
            return True
        return False

    def _fail_leftovers(self) -> None:
        with self._cond:
            calls, self._calls = list(self._calls), deque()
            calls += self._pending_flushes
            self._pending_flushes = []
            lost = len(self._results)
            self._results.clear()
            self.lost_on_stop += lost
            self._aborted = True
        if calls or lost:
            log.error("writer.stopped_with_unwritten_work", results_lost=lost, calls_failed=len(calls))
        Call.settle_many([(c, StoreError("writer stopped before this was written"), False) for c in calls])

"""One batch transaction of the writer, and the small value types around it.

Kept apart from `writer.py` (the thread, queues and lifecycle) because this is the part that touches
SQL: what goes into one `BEGIN IMMEDIATE … COMMIT`, how one bad result row is kept from failing its
batch, and which SQLite errors mean "the database is unavailable, keep the batch and retry" as opposed to
"this one item is wrong, fail it and carry on".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from daemon.store import results_sql
from daemon.types import CheckResult

#: Primary result codes after which retrying the same batch later can succeed: a lock that will be
#: released, a disk that will get space, a file that will become writable again, transient I/O.
_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
    "SQLITE_PROTOCOL",
    "SQLITE_NOMEM",
    "SQLITE_INTERRUPT",
)


def is_unavailable(exc: BaseException) -> bool:
    """True for SQLite errors that say nothing about the item being written, only about the file."""
    if not isinstance(exc, sqlite3.Error):
        return False
    name = getattr(exc, "sqlite_errorname", None) or ""
    return name.startswith(_UNAVAILABLE)


@dataclass(eq=False, slots=True)
class Call:
    """A must-not-lose call, or (fn None) a flush marker waiting for results up to `flush_seq`."""

    fn: Callable[[sqlite3.Connection], Any] | None
    enqueued: float
    future: asyncio.Future | concurrent.futures.Future
    loop: asyncio.AbstractEventLoop | None
    flush_seq: int | None = None

    def settle(self, value: Any, *, ok: bool) -> None:
        Call.settle_many([(self, value, ok)])

    @staticmethod
    def settle_many(items: Iterable[tuple[Call, Any, bool]]) -> None:
        """Resolve futures from any thread: one `call_soon_threadsafe` per event loop, not per future.

        With 100 producers awaiting their rows, waking the loop once per batch instead of 100 times is
        what keeps the loop's self-pipe from becoming the bottleneck.
        """
        by_loop: dict[asyncio.AbstractEventLoop, list] = defaultdict(list)
        for call, value, ok in items:
            if call.loop is None:
                future = call.future
                if not future.done():
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
            else:
                by_loop[call.loop].append((call.future, value, ok))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_on_loop, settled)
            except RuntimeError:  # that loop is closed: nobody is awaiting any more
                pass


def _settle_on_loop(settled: list[tuple[asyncio.Future, Any, bool]]) -> None:
    for future, value, ok in settled:
        if future.done():  # cancelled by its awaiter; the write happened anyway
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


@dataclass(slots=True)
class CommitOutcome:
    settled: list[tuple[Call, Any, bool]]
    written: int
    unknown: int
    unknown_names: set[str]
    rejected: int
    error: str | None = None
    #: False when the batch held only flush markers and no transaction was needed.
    transaction: bool = True
    #: The transaction also folded the results above the mark into the hourly rollups.
    folded: bool = False


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters since start; latencies in milliseconds over the most recent items (None before any)."""

    written: int
    shed: int
    dropped_unknown: int
    rejected: int
    calls_done: int
    calls_failed: int
    lost_on_stop: int
    batches: int
    retries: int
    result_latency_p50_ms: float | None
    result_latency_p99_ms: float | None
    call_latency_p50_ms: float | None
    call_latency_p99_ms: float | None
    queued_results: int
    queued_calls: int
    db_available: bool
    last_error: str | None = field(default=None)


def percentile(sorted_seconds: list[float], q: float) -> float | None:
    if not sorted_seconds:
        return None
    index = min(len(sorted_seconds) - 1, int(q * len(sorted_seconds)))
    return round(sorted_seconds[index] * 1000, 3)


def execute_batch(
    conn: sqlite3.Connection,
    calls: list[Call],
    results: list[tuple[float, CheckResult]],
    component_ids: dict[str, int],
    *,
    isolate_rows: bool = False,
    fold: bool = False,
) -> CommitOutcome:
    """Run one batch in one transaction and commit it; on any error roll back and raise.

    The caller decides what the error means: the database is unavailable (`is_unavailable`: keep the
    batch, retry later) or an item is bad (re-run the batch one item per transaction to find it).

    Calls run first, so a call that upserts components makes them visible to the results of the same
    batch. `component_ids` is the writer's name → id cache, filled here on misses.

    `isolate_rows`: the results go under a SAVEPOINT, so a row the schema refuses costs that row,
    not the batch. Only the writer's re-run of a poisoned batch asks for it. Why not always: a
    savepoint keeps the original of every page the batch touches in a sub-journal, and past 64 KiB
    (a dozen results: each one touches its table, its index and two rollup rows in pages of their
    own) SQLite spills that sub-journal to a temporary file. With 200 checks a second that was 150-230
    page writes to /var/tmp per batch, the most frequent system call of the whole daemon. Without it a
    refused row raises, the batch rolls back, and the writer re-runs it item by item with this set.

    `fold`: also count every result not yet in the hourly rollups into them (`results_sql.fold_rollups`,
    the writer asks every few seconds), in this transaction; `folded` in the outcome says it did.
    """
    settled: list[tuple[Call, Any, bool]] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for call in calls:
            # No SAVEPOINT per call (it doubled the statements of a batch of small calls): a call that
            # raises fails the whole batch, and the writer then re-runs the batch item by item.
            settled.append((call, None if call.fn is None else call.fn(conn), True))
        rows, unknown_names, unknown, malformed = _resolve(conn, results, component_ids)
        if isolate_rows:
            written, rejected, error = _write_rows_isolated(conn, rows)
        else:
            results_sql.insert_results(conn, rows)
            written, rejected, error = len(rows), 0, None
        rejected += malformed
        if fold:
            results_sql.fold_rollups(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite may already have rolled back (SQLITE_FULL, IOERR); the connection is reset
        raise
    return CommitOutcome(settled, written, unknown, unknown_names, rejected, error, folded=fold)


def _resolve(
    conn: sqlite3.Connection, results: list[tuple[float, CheckResult]], ids: dict[str, int]
) -> tuple[list[results_sql.Row], set[str], int, int]:
    """(rows, unknown names, results of unknown components, malformed results)."""
    rows: list[results_sql.Row] = []
    unknown_names: set[str] = set()
    unknown = malformed = 0
    for _t, result in results:
        cid = ids.get(result.component)
        if cid is None:
            cid = results_sql.component_id(conn, result.component)
            if cid is None:
                # Not declared (anymore): a result for it has no row to belong to. Counted and logged.
                unknown += 1
                unknown_names.add(result.component)
                continue
            ids[result.component] = cid
        try:
            rows.append(results_sql.result_row(result, cid))
        except (TypeError, ValueError, AttributeError):
            malformed += 1  # one bad object must not poison the batch it came in
    return rows, unknown_names, unknown, malformed


def _write_rows_isolated(conn: sqlite3.Connection, rows: list[results_sql.Row]) -> tuple[int, int, str | None]:
    """(written, rejected, last error). A constraint failure costs one row, not the batch."""
    if not rows:
        return 0, 0, None
    conn.execute("SAVEPOINT healerd_results")
    try:
        results_sql.insert_results(conn, rows)
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK TO healerd_results")
    else:
        conn.execute("RELEASE healerd_results")
        return len(rows), 0, None
    good, error = [], None
    for row in rows:
        try:
            conn.execute(results_sql.INSERT_RESULT, row)
        except sqlite3.IntegrityError as exc:
            error = str(exc)
            continue
        good.append(row)
    conn.execute("RELEASE healerd_results")
    return len(good), len(rows) - len(good), error

"""The recorded history a replay reads: results in time order (streamed), and what actually happened.

Read-only, on a connection of its own. Results are streamed by the `ts` index in batches, so a week of a
large fleet never sits in memory; the recorded decisions, events and escalations are small (they are
per incident, not per check) and are read whole.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence

_BATCH = 10_000
#: history the reader thread scans per statement, and how many of those it may hold ahead of the replay
_WINDOW_S = 3600.0
_QUEUED = 8
_POLL_S = 0.5
_START_S = 30.0
_JOIN_S = 10.0
#: the first and last result: two connections that agree on them read the same history
_EDGES = "SELECT (SELECT min(id) FROM check_results), (SELECT max(id) FROM check_results)"  # each one index seek


def components(conn: sqlite3.Connection) -> dict[int, dict]:
    rows = conn.execute("SELECT id, name, every_s FROM components").fetchall()
    return {r[0]: {"name": r[1], "every_s": r[2]} for r in rows}


def _names_filter(conn: sqlite3.Connection, names: Sequence[str] | None, alias: str = "") -> tuple[str, list]:
    if not names:
        return "", []
    col = f"{alias}component_id" if alias else "component_id"
    marks = ",".join("?" * len(names))
    return f" AND {col} IN (SELECT id FROM components WHERE name IN ({marks}))", list(names)


def bounds(conn: sqlite3.Connection) -> tuple[float | None, float | None]:
    return conn.execute("SELECT min(ts), max(ts) FROM check_results").fetchone()


def stream_results(
    conn: sqlite3.Connection, start: float, end: float, names: Sequence[str] | None = None
) -> Iterator[tuple]:
    """(component, ts, status, error_class, maintenance) with start ≤ ts < end, oldest first."""
    ids = {cid: row["name"] for cid, row in components(conn).items()}
    where, params = _names_filter(conn, names)
    cursor = conn.execute(
        "SELECT component_id, ts, status, error_class, maintenance FROM check_results "
        f"WHERE ts >= ? AND ts < ?{where} ORDER BY ts, id",
        [start, end, *params],
    )
    while True:
        batch = cursor.fetchmany(_BATCH)
        if not batch:
            return
        for cid, ts, status, error_class, maintenance in batch:
            yield ids.get(cid), ts, status, error_class, maintenance


def recovery_events(
    conn: sqlite3.Connection, start: float, end: float, names: Sequence[str] | None = None
) -> list[dict]:
    """Every recorded action (dry runs aside), with the error class of the last result before it."""
    where, params = _names_filter(conn, names, "e.")
    rows = conn.execute(
        f"""
        SELECT c.name, e.strategy, e.step, e.attempt, e.status, e.started_at, e.finished_at, e.candidate, e.action,
               e.incident_id,
               (SELECT r.error_class FROM check_results r WHERE r.component_id = e.component_id
                  AND r.ts <= e.started_at AND r.status IN ('unhealthy', 'unknown') ORDER BY r.ts DESC LIMIT 1)
        FROM recovery_events e JOIN components c ON c.id = e.component_id
        WHERE e.dry_run = 0 AND e.started_at >= ? AND e.started_at < ?{where} ORDER BY e.started_at, e.id
        """,
        [start, end, *params],
    ).fetchall()
    keys = (
        "component",
        "strategy",
        "step",
        "attempt",
        "status",
        "started_at",
        "finished_at",
        "candidate",
        "action",
        "incident_id",
        "error_class",
    )
    return [dict(zip(keys, r)) for r in rows]


def decisions(conn: sqlite3.Connection, start: float, end: float, names: Sequence[str] | None = None) -> list[dict]:
    where, params = _names_filter(conn, names, "d.")
    rows = conn.execute(
        f"SELECT c.name, d.ts, d.kind, d.step, d.strategy, d.incident_id, d.reason FROM decisions d "
        f"JOIN components c ON c.id = d.component_id WHERE d.ts >= ? AND d.ts < ?{where} ORDER BY d.ts, d.id",
        [start, end, *params],
    ).fetchall()
    keys = ("component", "ts", "kind", "step", "strategy", "incident", "reason")
    return [dict(zip(keys, r)) for r in rows]


def incidents(conn: sqlite3.Connection, start: float, end: float, names: Sequence[str] | None = None) -> list[dict]:
    where, params = _names_filter(conn, names, "i.")
    rows = conn.execute(
        f"SELECT c.name, i.id, i.opened_at, i.closed_at, i.trigger, i.acked_at FROM incidents i "
        f"JOIN components c ON c.id = i.component_id WHERE i.opened_at >= ? AND i.opened_at < ?{where} "
        "ORDER BY i.opened_at",
        [start, end, *params],
    ).fetchall()
    return [dict(zip(("component", "id", "opened_at", "closed_at", "trigger", "acked_at"), r)) for r in rows]


def escalations(conn: sqlite3.Connection, start: float, end: float, names: Sequence[str] | None = None) -> list[dict]:
    where, params = _names_filter(conn, names, "e.")
    rows = conn.execute(
        f"SELECT c.name, e.incident_id, e.created_at, e.kind, e.channel FROM escalations e "
        f"JOIN components c ON c.id = e.component_id WHERE e.created_at >= ? AND e.created_at < ?{where} "
        "ORDER BY e.created_at, e.id",
        [start, end, *params],
    ).fetchall()
    return [dict(zip(("component", "incident", "ts", "kind", "channel"), r)) for r in rows]


def breaker_opens(conn: sqlite3.Connection, start: float, end: float, names: Sequence[str] | None = None) -> list[dict]:
    where, params = _names_filter(conn, names, "t.")
    rows = conn.execute(
        f"SELECT c.name, t.ts, t.reason FROM breaker_transitions t JOIN components c ON c.id = t.component_id "
        f"WHERE t.to_state = 'open' AND t.ts >= ? AND t.ts < ?{where} ORDER BY t.ts",
        [start, end, *params],
    ).fetchall()
    return [dict(zip(("component", "ts", "reason"), r)) for r in rows]


def verified_checkpoints(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute(
        "SELECT name, id, taken_at FROM checkpoints WHERE status IN ('verified', 'pruned') ORDER BY taken_at"
    ).fetchall()
    return [dict(zip(("name", "id", "taken_at"), r)) for r in rows]


def insert_shadow_decisions(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """rows: (component_id, ts, shadow_config, incident, kind, step, strategy, reason, until)."""
    conn.executemany(
        "INSERT INTO shadow_decisions (component_id, ts, shadow_config, incident, kind, step, strategy, "
        "reason, until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


#: A row the folding replay must see one by one wherever it comes: anything but a plain healthy result.
#: (Rows outside this are exactly status 'healthy', no error class, not in maintenance.)
_NOT_PLAIN = "NOT (status = 'healthy' AND error_class IS NULL AND maintenance = 0)"


class FoldSource:
    """The reads of a folding replay (engine/replay_fold.py), all in SQLite's C, none per plain result:

    - `changes()`: every result that is not plain healthy, in (ts, id) order — one scan of the `ts`
      index, filtered before any row reaches Python;
    - `detail()`: one component's results after a position, by the (component_id, ts) index, for the
      stretches where that component's every result matters;
    - `gap()`: how many results of one component lie between two positions, and their first and last
      instants (index only) — the plain results a quiet component folds.

    A position is (ts, id): the order the daemon recorded them in, the order `stream_results` gives.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        start: float,
        end: float,
        names: Sequence[str] | None = None,
        *,
        reader_thread: bool = True,
    ) -> None:
        self.conn, self.start, self.end = conn, start, end
        wanted = set(names) if names else None
        everything = components(conn)
        self.ids = {row["name"]: cid for cid, row in everything.items() if wanted is None or row["name"] in wanted}
        self._names = {cid: name for name, cid in self.ids.items()}
        self._all = len(self.ids) == len(everything)
        self._reader_thread = reader_thread
        self._began = False
        self._worker: threading.Thread | None = None
        self._worker_conn: sqlite3.Connection | None = None
        self._stop = threading.Event()

    def __enter__(self) -> FoldSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the reader thread (if any) and end the read transaction `changes()` began."""
        self._stop.set()
        if self._worker is not None:
            worker_conn = self._worker_conn
            if worker_conn is not None:
                try:
                    worker_conn.interrupt()  # a scan in progress ends at once (thread-safe)
                except sqlite3.ProgrammingError:
                    pass  # the thread closed it meanwhile
            self._worker.join(_JOIN_S)
        if self._began and self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self._began = False

    def _filter(self) -> tuple[str, list]:
        if self._all:
            return "", []
        return f" AND component_id IN ({','.join('?' * len(self.ids))})", list(self.ids.values())

    def _changes_sql(self) -> tuple[str, list]:
        where, params = self._filter()
        return (
            "SELECT component_id, ts, id, status, error_class, maintenance FROM check_results "
            f"INDEXED BY ix_check_results_ts WHERE ts >= ? AND ts < ? AND {_NOT_PLAIN}{where} ORDER BY ts, id",
            [self.start, self.end, *params],
        )

    def changes(self) -> Iterator[tuple]:
        """(component, ts, id, status, error_class, maintenance) of every result not plain healthy.

        The scan is most of the replay's SQLite time. With `reader_thread` it runs on a connection of its
        own in a thread, an hour of history per statement that returns one value (the ids it kept), so
        SQLite scans without the GIL while the replay runs on the other core; this connection then
        reads those few rows by id. Both connections hold a read transaction and must agree on the first
        and last result, else (a live daemon appended or pruned in between) this connection scans alone.
        """
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
            self._began = True
        here = self.conn.execute(_EDGES).fetchone()
        path = self.conn.execute("PRAGMA database_list").fetchone()[2]
        batches = self._threaded(path, here) if self._reader_thread and path else None
        if batches is None:
            sql, params = self._changes_sql()
            cursor = self.conn.execute(sql, params)
            batches = iter(lambda: cursor.fetchmany(_BATCH), [])
        names = self._names
        for batch in batches:
            for cid, ts, rid, status, error_class, maintenance in batch:
                name = names.get(cid)
                if name is not None:
                    yield name, ts, rid, status, error_class, maintenance

    def _threaded(self, path: str, here: tuple) -> Iterator[list] | None:
        from daemon.store.sqlite import connect

        where, params = self._filter()
        sql = (
            "SELECT group_concat(id) FROM (SELECT id FROM check_results INDEXED BY ix_check_results_ts "
            f"WHERE ts >= ? AND ts < ? AND {_NOT_PLAIN}{where})"
        )
        out: queue.Queue = queue.Queue(_QUEUED)
        ready: queue.Queue = queue.Queue(1)
        start, end = self.start, self.end

        def put(item) -> bool:
            while not self._stop.is_set():
                try:
                    out.put(item, timeout=_POLL_S)
                    return True
                except queue.Full:
                    continue
            return False

        def work() -> None:
            try:
                conn = connect(path, readonly=True, check_same_thread=False)
            except BaseException as e:
                ready.put(e)
                return
            self._worker_conn = conn
            try:
                conn.execute("BEGIN")
                same = conn.execute(_EDGES).fetchone() == here
                ready.put(same)
                if not same:
                    return
                t = start
                while t < end and not self._stop.is_set():
                    upto = min(t + _WINDOW_S, end)
                    (ids,) = conn.execute(sql, [t, upto, *params]).fetchone()
                    if ids and not put(ids):
                        return
                    t = upto
                put(None)
            except BaseException as e:
                put(e)
            finally:
                self._worker_conn = None
                conn.close()

        self._worker = threading.Thread(target=work, name="replay-changes", daemon=True)
        self._worker.start()
        try:
            agreed = ready.get(timeout=_START_S)
        except queue.Empty:
            agreed = False
        if isinstance(agreed, BaseException) or not agreed:
            self._stop.set()
            self._worker.join(_JOIN_S)
            self._worker, self._stop = None, threading.Event()
            return None
        return self._by_id(out)

    def _by_id(self, out: queue.Queue) -> Iterator[list]:
        """The rows of the ids the thread found, an hour at a time, in (ts, id) order."""
        worker = self._worker
        while True:
            try:
                ids = out.get(timeout=_POLL_S)
            except queue.Empty:
                if worker is None or not worker.is_alive():
                    raise RuntimeError("the replay's reader thread stopped without finishing") from None
                continue
            if isinstance(ids, BaseException):
                raise ids
            if ids is None:
                return
            yield self.conn.execute(
                "SELECT component_id, ts, id, status, error_class, maintenance FROM check_results "
                "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY ts, id",
                (f"[{ids}]",),
            ).fetchall()

    def detail(self, name: str, after: tuple[float, int] | None, limit: int) -> list[tuple]:
        """Up to `limit` (ts, id, status, error_class, maintenance) of `name` after position `after`."""
        if after is None:
            return self.conn.execute(
                "SELECT ts, id, status, error_class, maintenance FROM check_results "
                "INDEXED BY ix_check_results_component_id_ts WHERE component_id = ? AND ts >= ? AND ts < ? "
                "ORDER BY ts, id LIMIT ?",
                (self.ids[name], self.start, self.end, limit),
            ).fetchall()
        ts, rid = after
        return self.conn.execute(
            "SELECT ts, id, status, error_class, maintenance FROM check_results "
            "INDEXED BY ix_check_results_component_id_ts WHERE component_id = ? AND ts >= ? AND ts < ? "
            "AND (ts > ? OR id > ?) ORDER BY ts, id LIMIT ?",
            (self.ids[name], ts, self.end, ts, rid, limit),
        ).fetchall()

    def gap(self, name: str, after: tuple[float, int], before: tuple[float, int] | None) -> tuple[int, float | None]:
        """(count, last ts) of `name`'s results strictly between two positions (None: up to the end).

        Counted on plain `ts` ranges, with the rows at the two boundary instants counted apart (a range
        test with `OR id > ?` or a min()/max() in the same scan costs 2-6 times as much per row).
        """
        cid, (ts, rid) = self.ids[name], after
        if before is None:
            count, last = self.conn.execute(
                f"SELECT ({_COUNT} AND ts > ? AND ts < ?) + ({_COUNT} AND ts = ? AND id > ?), ({_LAST} AND ts < ?)",
                (cid, ts, self.end, cid, ts, rid, cid, self.end),
            ).fetchone()
            return count, last if count else None
        bts, bid = before
        if bts == ts:
            (count,) = self.conn.execute(f"{_COUNT} AND ts = ? AND id > ? AND id < ?", (cid, ts, rid, bid)).fetchone()
            return count, ts if count else None
        inner, at_before, below = self.conn.execute(
            f"SELECT ({_COUNT} AND ts > ? AND ts < ?) + ({_COUNT} AND ts = ? AND id > ?), "
            f"({_COUNT} AND ts = ? AND id < ?), ({_LAST} AND ts < ?)",
            (cid, ts, bts, cid, ts, rid, cid, bts, bid, cid, bts),
        ).fetchone()
        if at_before:
            return inner + at_before, bts
        return inner, below if inner else None


_INDEX = "check_results INDEXED BY ix_check_results_component_id_ts WHERE component_id = ?"
_COUNT = f"SELECT count(*) FROM {_INDEX}"
_LAST = f"SELECT max(ts) FROM {_INDEX}"

"""One shipping round, table by table: what is new or changed locally goes to the centre.

Runs in the shipper's own thread (service/fleet.py), so a slow or hung centre only ever stalls this
thread, never the event loop that runs checks and healing. Per table (modes in store/fleet_models.py):

* new rows are read past the table's high-water mark, `batch` at a time, upserted in one centre
  transaction, and only after that commit is the mark advanced — through the daemon's single writer.
  A crash between the two replays the batch next time, and `ON CONFLICT (host, id)` absorbs it: nothing
  lost, nothing doubled;
* rows that may still change (window mode: from the oldest row that was not final last round) and
  small keyed tables (snapshot mode) are re-read and re-sent when their content changed since they were
  last sent (an in-memory hash per row; after a restart they are all sent once more, harmlessly).

Memory is bounded by `batch` rows per table plus one hash per still-open or snapshot row.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection

from daemon.store import fleet_central, fleet_sql
from daemon.store.fleet_models import SHIPPED, Shipped

SaveMark = Callable[[str, int, "int | None", int], None]


class Stopped(Exception):
    """The daemon is stopping: leave the round between two batches."""


def _digest(row: dict[str, Any], volatile: tuple[str, ...] = ()) -> int:
    return hash(tuple(v for k, v in row.items() if k not in volatile))


class TableShipper:
    def __init__(
        self,
        host: str,
        batch: int,
        save_mark: SaveMark,
        stopping: threading.Event,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        #: wall clock, for rows whose being final depends on time (a silence that has ended)
        self.wall = wall
        self.batch = batch
        self.save_mark = save_mark
        self.stopping = stopping
        #: table → key → digest of what the centre has (window and snapshot rows only)
        self.sent: dict[str, dict[Any, int]] = {}

    def round(self, local: sqlite3.Connection, pg: Connection) -> int:
        marks = fleet_sql.load_marks(local)
        return sum(self.table(local, pg, spec, marks.get(spec.table, fleet_sql.Mark())) for spec in SHIPPED)

    def table(self, local: sqlite3.Connection, pg: Connection, spec: Shipped, mark: fleet_sql.Mark) -> int:
        if spec.mode == "snapshot":
            return self._rescan(local, pg, spec, None, None, self.wall())[0]
        sent, still_open = 0, None
        now = self.wall()
        if spec.mode == "window" and mark.open_from is not None:
            sent, still_open = self._rescan(local, pg, spec, mark.open_from - 1, mark.shipped_id, now)
            cache = self.sent.get(spec.table, {})
            floor = mark.shipped_id + 1 if still_open is None else still_open
            for key in [k for k in cache if k < floor]:  # final now: never re-read again
                del cache[key]
        shipped_id = mark.shipped_id
        changed_open = still_open != mark.open_from
        while True:
            self._check_stop()
            rows = fleet_sql.read_new(local, spec.table, shipped_id, self.batch)
            if not rows:
                break
            window = spec.mode == "window"
            self._send(pg, spec.table, rows, update=window)
            if window:
                cache = self.sent.setdefault(spec.table, {})
                for row in rows:
                    if fleet_sql.is_open(spec, row, now):
                        still_open = row["id"] if still_open is None else min(still_open, row["id"])
                        cache[row["id"]] = _digest(row)
            shipped_id = rows[-1]["id"]
            self.save_mark(spec.table, shipped_id, still_open, len(rows))
            changed_open = False
            sent += len(rows)
            if len(rows) < self.batch:
                break
        if changed_open:
            self.save_mark(spec.table, shipped_id, still_open, 0)
        return sent

    def _rescan(self, local, pg, spec: Shipped, after: Any, upto: int | None, now: float) -> tuple[int, int | None]:
        """Re-read rows by key; send the ones whose content changed. Returns (sent, lowest open id)."""
        key = fleet_sql.key_column(spec.table)
        cache = self.sent.setdefault(spec.table, {})
        sent, still_open = 0, None
        while True:
            self._check_stop()
            rows = fleet_sql.read_range(local, spec.table, after, upto, self.batch)
            if not rows:
                break
            changed = [r for r in rows if cache.get(r[key]) != _digest(r, spec.volatile)]
            if changed:
                self._send(pg, spec.table, changed, update=True)
                for row in changed:
                    cache[row[key]] = _digest(row, spec.volatile)
                sent += len(changed)
            if spec.mode == "window":
                for row in rows:
                    if fleet_sql.is_open(spec, row, now) and (still_open is None or row["id"] < still_open):
                        still_open = row["id"]
            after = rows[-1][key]
            if len(rows) < self.batch:
                break
        return sent, still_open

    def _send(self, pg: Connection, table: str, rows: list[dict[str, Any]], *, update: bool) -> None:
        fleet_central.upsert(pg, table, self.host, rows, update=update)
        pg.commit()

    def _check_stop(self) -> None:
        if self.stopping.is_set():
            raise Stopped

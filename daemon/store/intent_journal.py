"""Intent before act, bounded: a small fsync'd journal beside the database for when it cannot commit.

The healer commits a step's `started` row before it acts. With another process holding the database
(`BEGIN EXCLUSIVE`) or the file system full, that commit waits for as long as the outage lasts, and a
service killed meanwhile is restarted only when the lock ends: the daemon's job stops. So the healer
waits at most `INTENT_WAIT_S` for the commit; then it appends the same write, as data, to this journal
(one JSON line, fsync'd), and acts. The write itself stays queued in the single writer and commits when
the database is writable again; the journal line is then marked done. A daemon killed with -9 during
the outage finds the lines not marked done at its next start and replays them into the database before
anything else, so an in-flight step is there, with its true start time, and is finished `interrupted`
like any other. If the file system is full, the journal cannot be written either: the write then lives
in the writer's memory and the intent is logged in full (the issue's "in memory and the log").

Why writes as data (ops) rather than the healer's closures: a closure cannot be written to a file. The
healer builds each of these writes as a list of ops, and the same `apply_entry` runs them live and on
replay, so the two can never disagree.

Why ids are allocated here (`IdAllocator`) and not by SQLite: the healer must know an incident's or an
event's id before the row is committed (its ladder holds it, the outcome updates it). The daemon is the
only writer of these tables (one daemon per database, by flock), so it hands out max(id)+1 itself. Every
insert into `incidents`, `recovery_events` and `decisions` in the daemon must take its id from it.

Idempotent replay: every entry names an anchor: the row whose presence (or, for an outcome, whose
`started` status) proves the entry's transaction already committed. A line whose done mark was lost (a
kill between the COMMIT and the mark) is then skipped, never applied twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from daemon.store import healer_sql
from daemon.store import state as store_state

log = structlog.get_logger(__name__)

#: How long the healer waits for an intent's COMMIT before it journals the intent and acts (README).
INTENT_WAIT_S = 0.5
SUFFIX = ".intents"
TABLES = ("incidents", "recovery_events", "decisions")

Entry = dict[str, Any]


def journal_path(db_path: str | os.PathLike[str]) -> Path:
    return Path(os.fspath(db_path) + SUFFIX)


# --- applying an entry (live and on replay) ------------------------------------------------------------


def _ladder(conn, op):
    healer_sql.save_ladder(conn, op["component_id"], op["ladder"], op["mirror"], op["now"])
    if op.get("fallback_active"):
        healer_sql.set_primary_healthy_since(conn, op["component_id"], op.get("healthy_since"), op["now"])


_OPS = {
    "transition": lambda conn, op: store_state.insert_transition(
        conn,
        op["component_id"],
        ts=op["ts"],
        from_state=op["from_state"],
        to_state=op["to_state"],
        reason=op["reason"],
        open_until=op["open_until"],
    ),
    "breaker": lambda conn, op: store_state.save_breaker(conn, op["component_id"], op["snapshot"], op["now"]),
    "ladder": _ladder,
    "decision": lambda conn, op: healer_sql.insert_decision(conn, **{k: v for k, v in op.items() if k != "op"}),
    "incident": lambda conn, op: healer_sql.insert_incident(
        conn, op["component_id"], op["opened_at"], op["trigger"], incident_id=op["id"]
    ),
    "close_incident": lambda conn, op: healer_sql.close_incident(conn, op["id"], op["closed_at"]),
    "waiting_on": lambda conn, op: healer_sql.set_waiting_on(conn, op["id"], op["name"]),
    "event": lambda conn, op: healer_sql.insert_started(conn, **{k: v for k, v in op.items() if k != "op"}),
    "finish": lambda conn, op: healer_sql.finish_event(
        conn, op["id"], **{k: v for k, v in op.items() if k not in ("op", "id")}
    ),
    "fallback_set": lambda conn, op: healer_sql.set_fallback(
        conn, op["component_id"], op["candidate"], op["activated_at"], op["incident_id"], op["now"]
    ),
    "fallback_clear": lambda conn, op: healer_sql.clear_fallback(conn, op["component_id"], op["now"]),
}


def entry(anchor: list[Any] | None, ops: Sequence[dict[str, Any] | None]) -> Entry:
    """`anchor`: ["absent", table, id] (apply unless that row exists), ["started", event_id] or
    ["transition", component_id, ts, to_state]."""
    return {"anchor": anchor, "ops": [op for op in ops if op is not None]}


def _committed(conn: sqlite3.Connection, anchor: list | None) -> bool:
    if not anchor:
        return False
    if anchor[0] == "absent":
        table, row_id = anchor[1], anchor[2]
        assert table in TABLES
        return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone() is not None
    if anchor[0] == "transition":  # breaker transitions: (component, time, new state) is their natural key
        _, component_id, ts, to_state = anchor
        return (
            conn.execute(
                "SELECT 1 FROM breaker_transitions WHERE component_id = ? AND ts = ? AND to_state = ?",
                (component_id, ts, to_state),
            ).fetchone()
            is not None
        )
    if anchor[0] == "started":
        row = conn.execute("SELECT status FROM recovery_events WHERE id = ?", (anchor[1],)).fetchone()
        return row is None or row[0] != "started"  # finished already (or its start was never written)
    raise ValueError(f"unknown anchor {anchor!r}")


def apply_entry(conn: sqlite3.Connection, e: Entry) -> bool:
    """Run the entry's ops in the caller's transaction unless its anchor says it committed already."""
    if _committed(conn, e.get("anchor")):
        return False
    for op in e["ops"]:
        _OPS[op["op"]](conn, op)
    return True


# --- ids -----------------------------------------------------------------------------------------------


class IdAllocator:
    """max(id)+1 per table, handed out by the daemon (see the module docstring for why)."""

    def __init__(self, maxima: dict[str, int]) -> None:
        self._next = {t: int(maxima.get(t) or 0) + 1 for t in TABLES}

    @staticmethod
    def read_maxima(conn: sqlite3.Connection) -> dict[str, int]:
        return {t: conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] for t in TABLES}

    def take(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value


# --- the file ------------------------------------------------------------------------------------------


class IntentJournal:
    """Append-only JSON lines: `{"seq": n, "entry": …}` (fsync'd) and `{"done": n}` (not: a lost mark only
    costs an idempotent replay). Truncated whenever nothing is pending, so it stays small."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.pending: dict[int, Entry] = {}
        self._seq = 0
        self._fd: int | None = None
        #: `record` runs on a worker thread (fsync), `done` on the event loop: one file, one lock
        self._lock = threading.Lock()

    def load(self) -> list[Entry]:
        """Entries a previous daemon journaled and did not see committed, in the order it wrote them."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        entries: dict[int, Entry] = {}
        for number, line in enumerate(raw.splitlines(), start=1):
            try:
                record = json.loads(line)
            except ValueError:  # a torn last line from a crash mid-write: its intent was never acted on
                log.warning("intent journal: unreadable line skipped", path=str(self.path), line=number)
                continue
            if "done" in record:
                entries.pop(record["done"], None)
            else:
                entries[record["seq"]] = record["entry"]
                self._seq = max(self._seq, record["seq"])
        return [entries[k] for k in sorted(entries)]

    def record(self, e: Entry) -> int | None:
        """Append and fsync; the sequence number, or None when the file cannot be written (disk full)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            line = json.dumps({"seq": seq, "entry": e}, separators=(",", ":")).encode() + b"\n"
            try:
                fd = self._open()
                os.write(fd, line)
                os.fsync(fd)
            except OSError as exc:
                log.warning(
                    "intent journal not writable; this intent is kept in memory and in this log line",
                    path=str(self.path),
                    error=str(exc),
                    intent=e,
                )
                self._close()
                return None
            self.pending[seq] = e
            return seq

    def done(self, seq: int | None) -> None:
        with self._lock:
            if seq is None or self.pending.pop(seq, None) is None:
                return
            try:
                fd = self._open()
                if self.pending:
                    os.write(fd, json.dumps({"done": seq}).encode() + b"\n")
                else:
                    os.ftruncate(fd, 0)  # everything journaled is in the database: start the file afresh
            except OSError as exc:  # harmless: the entry's anchor makes its replay a no-op
                log.warning("intent journal: could not mark an entry done", path=str(self.path), error=str(exc))
                self._close()

    def clear(self) -> None:
        """After a replay committed: nothing in the file is pending any more."""
        self.pending.clear()
        try:
            os.truncate(self.path, 0)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self._close()

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

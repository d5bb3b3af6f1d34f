"""The daemon's kept read-only connections (store/readers.py): reused, fresh, and never stuck."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from daemon.store.readers import ThreadReaders
from daemon.store.sqlite import connect


def _conn_id(conn: sqlite3.Connection) -> int:
    return id(conn)


def test_reads_on_one_thread_reuse_one_connection_and_each_thread_has_its_own(db_path: Path) -> None:
    readers = ThreadReaders(db_path)
    first = readers.read(_conn_id)
    assert readers.read(_conn_id) == first
    other: list[int] = []
    t = threading.Thread(target=lambda: other.append(readers.read(_conn_id)))
    t.start()
    t.join(timeout=10)
    assert other and other[0] != first
    readers.close()


def test_a_kept_connection_sees_what_the_writer_committed_after_it_opened(db_path: Path) -> None:
    readers = ThreadReaders(db_path)

    def pending(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT count(*) FROM operator_commands WHERE status = 'pending'").fetchone()[0]

    assert readers.read(pending) == 0
    writer = connect(db_path)
    writer.execute(
        "INSERT INTO operator_commands (created_at, command, target, args, status) "
        "VALUES (1.0, 'breaker_reset', 'web', '{}', 'pending')"
    )
    writer.close()
    assert readers.read(pending) == 1
    readers.close()


def test_a_reader_that_left_a_transaction_open_does_not_pin_an_old_snapshot(db_path: Path) -> None:
    readers = ThreadReaders(db_path)

    def begin_and_count(conn: sqlite3.Connection) -> int:
        conn.execute("BEGIN")
        return conn.execute("SELECT count(*) FROM components").fetchone()[0]

    def count(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT count(*) FROM components").fetchone()[0]

    before = readers.read(begin_and_count)
    writer = connect(db_path)
    writer.execute("INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES ('new', 'tcp', 10, 1.0)")
    writer.close()
    assert readers.read(count) == before + 1
    readers.close()


def test_a_connection_whose_read_failed_is_replaced(db_path: Path) -> None:
    readers = ThreadReaders(db_path)
    first = readers.read(lambda conn: conn)

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("SELECT * FROM no_such_table")

    with pytest.raises(sqlite3.OperationalError):
        readers.read(bad)
    assert readers.read(lambda conn: conn) is not first
    with pytest.raises(sqlite3.ProgrammingError):  # and the failed one was closed
        first.execute("SELECT 1")
    readers.close()


def test_reads_after_close_are_refused_and_every_kept_connection_is_closed(db_path: Path) -> None:
    readers = ThreadReaders(db_path)
    kept: list[sqlite3.Connection] = []
    readers.read(kept.append)
    readers.close()
    with pytest.raises(sqlite3.ProgrammingError):
        kept[0].execute("SELECT 1")
    with pytest.raises(RuntimeError):
        readers.read(_conn_id)
    t_errors: list[BaseException] = []

    def on_new_thread() -> None:
        try:
            readers.read(_conn_id)
        except BaseException as exc:
            t_errors.append(exc)

    t = threading.Thread(target=on_new_thread)
    t.start()
    t.join(timeout=10)
    assert len(t_errors) == 1 and isinstance(t_errors[0], RuntimeError)

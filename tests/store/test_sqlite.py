"""Every kind of connection healerd opens carries the same pragmas; read-only ones cannot write."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
import sqlalchemy as sa
from helpers import open_db

from daemon.store.sqlite import BUSY_TIMEOUT_MS, connect, create_engine, pragma_values

PRAGMAS = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "query_only")
NORMAL = 1
READ_WRITE = {
    "journal_mode": "wal",
    "synchronous": NORMAL,
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
    "query_only": 0,
}
READ_ONLY = {**READ_WRITE, "query_only": 1}


def test_plain_read_write_connection_has_every_pragma(db_path):
    conn = connect(db_path)
    try:
        assert pragma_values(conn, PRAGMAS) == READ_WRITE
    finally:
        conn.close()


def test_a_new_file_is_switched_to_wal_by_its_first_connection(tmp_path):
    conn = connect(tmp_path / "new.db")
    conn.close()
    with open_db(tmp_path / "new.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_plain_read_only_connection_has_every_pragma_and_refuses_writes(db_path):
    conn = connect(db_path, readonly=True)
    try:
        assert pragma_values(conn, PRAGMAS) == READ_ONLY
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only"):
            conn.execute("INSERT INTO feature_flag_state (name, updated_at) VALUES ('x', 0)")
    finally:
        conn.close()


def test_plain_connections_leave_transactions_to_the_caller(db_path):
    """No implicit BEGIN: the writer opens BEGIN IMMEDIATE itself and an INSERT alone autocommits."""
    conn = connect(db_path)
    try:
        conn.execute("INSERT INTO feature_flag_state (name, updated_at) VALUES ('x', 0)")
        assert not conn.in_transaction
    finally:
        conn.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_every_pooled_engine_connection_has_the_pragmas(db_path, readonly):
    engine = create_engine(db_path, readonly=readonly, poolclass=sa.pool.QueuePool, pool_size=2)
    expected = READ_ONLY if readonly else READ_WRITE
    try:
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                raw = conn.connection.driver_connection
                assert pragma_values(raw, PRAGMAS) == expected
    finally:
        engine.dispose()


def test_read_only_engine_refuses_writes(db_path):
    engine = create_engine(db_path, readonly=True)
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.OperationalError, match=r"readonly|read-only"):
            conn.exec_driver_sql("DELETE FROM feature_flag_state")
    finally:
        engine.dispose()


def test_engine_transactions_are_real_so_a_failed_block_rolls_back_ddl_too(db_path):
    engine = create_engine(db_path)
    try:
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (x)")
            raise RuntimeError("abort")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'scratch'").scalar() == 0
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced_on_engine_connections(db_path):
    engine = create_engine(db_path)
    try:
        with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO check_results (component_id, ts, status) VALUES (999, 0, 'healthy')")
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["with space.db", "what?.db", "hash#1.db", "per%20cent.db"])
def test_odd_file_names_open_read_write_and_read_only(db_path, tmp_path, name):
    odd = tmp_path / name
    shutil.copyfile(db_path, odd)
    conn = connect(odd)
    conn.execute("INSERT INTO feature_flag_state (name, updated_at) VALUES ('odd', 0)")
    conn.close()
    for readonly in (False, True):
        engine = create_engine(odd, readonly=readonly)
        try:
            with engine.connect() as c:
                assert c.exec_driver_sql("SELECT name FROM feature_flag_state").scalar() == "odd"
        finally:
            engine.dispose()
    ro = connect(odd, readonly=True)
    try:
        assert ro.execute("SELECT name FROM feature_flag_state").fetchone() == ("odd",)
    finally:
        ro.close()
    assert not (tmp_path / "what").exists()  # the '?' was not taken as the start of URI parameters

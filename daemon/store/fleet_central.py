"""Talking to the centre: the engine (password from a trusted file), the upserts, the host's row.

Every wait is bounded: `connect_timeout` on connecting, `statement_timeout` (30 s) on every statement,
so a centre that hangs can hold the shipper's thread for a bounded time, never forever.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine, make_url

from daemon.config.files import trust_problem
from daemon.errors import FleetError
from daemon.store import fleet_models

STATEMENT_TIMEOUT_MS = 30_000


def read_password(path: str) -> str:
    """The password file's first line, refused like a config file when others could have written it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise FleetError(f"cannot read the fleet password_file {path}: {exc.strerror or exc}") from None
    try:
        problem = trust_problem(os.fstat(fd), f"the fleet password_file {path}")
        if problem:
            raise FleetError(
                problem.replace(
                    "it can make healerd run commands", "whoever can write it can redirect healerd's history"
                )
            )
        with os.fdopen(os.dup(fd), encoding="utf-8") as f:
            return f.readline().rstrip("\r\n")
    finally:
        os.close(fd)


def make_engine(url: str, password_file: str | None = None, *, connect_timeout: float = 5.0) -> Engine:
    """A small pool (the shipper uses one connection at a time) that checks a connection before use."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise FleetError(f"not a PostgreSQL URL: {exc}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise FleetError(f"the fleet URL must be postgresql+psycopg://…, not {parsed.drivername}://")
    if parsed.password is not None:
        raise FleetError("put the fleet password in password_file, not in the URL (the URL is logged and shown)")
    if password_file:
        parsed = parsed.set(password=read_password(password_file))
    return sa.create_engine(
        parsed,
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=True,
        pool_timeout=connect_timeout,
        connect_args={
            "connect_timeout": max(1, round(connect_timeout)),
            "application_name": "healerd",
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            # A centre that vanishes mid-round (pulled cable, dead VM) must not hang the shipper's
            # thread forever: TCP keepalives and tcp_user_timeout bound a silent peer to ~30 s.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": 30_000,
        },
    )


def safe_url(url: str) -> str:
    """The URL as it may be shown: without a password (there should be none in it anyway)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(invalid URL)"


def _booleans(table: sa.Table) -> list[str]:
    return [c.name for c in table.columns if isinstance(c.type, sa.Boolean)]


def upsert(conn: Connection, table_name: str, host: str, rows: Sequence[dict[str, Any]], *, update: bool) -> None:
    """INSERT … ON CONFLICT on (host, local key): a replayed row is a no-op (append-only tables) or
    overwrites the centre's copy with the host's current one (rows that change).

    The rows reach the server by COPY into a session-local staging table, then one
    `INSERT … SELECT … ON CONFLICT` moves them: measured ~2x the rows/s of a multi-row INSERT through
    executemany (bench/fleet_ship.py), and still one transaction with the caller's.
    """
    if not rows:
        return
    table = fleet_models.metadata.tables[table_name]
    names = [c.name for c in table.columns]
    flags = set(_booleans(table))
    key = [c.name for c in table.primary_key.columns]
    stage = f"healerd_stage_{table_name}"
    columns = ", ".join(f'"{n}"' for n in names)
    if update:
        assignments = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n not in key)
        conflict = f"DO UPDATE SET {assignments}"
    else:
        conflict = "DO NOTHING"
    raw = conn.connection.driver_connection
    assert raw is not None, "a live connection has its driver connection"
    with raw.cursor() as cur:
        cur.execute(f'CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE "{table_name}") ON COMMIT DELETE ROWS')
        with cur.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        host if n == "host" else (bool(row[n]) if n in flags and row[n] is not None else row[n])
                        for n in names
                    ]
                )
        cur.execute(
            f'INSERT INTO "{table_name}" ({columns}) SELECT {columns} FROM {stage} '
            f"ON CONFLICT ({', '.join(key)}) {conflict}"
        )
        cur.execute(f"TRUNCATE {stage}")


def touch_host(
    conn: Connection, host: str, *, now: float, version: str, local_revision: str | None, lag_s: float | None, rows: int
) -> None:
    t = fleet_models.fleet_hosts_info
    stmt = pg_insert(t).values(
        host=host,
        first_seen=now,
        last_seen=now,
        version=version,
        local_revision=local_revision,
        lag_s=lag_s,
        rows_shipped=rows,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["host"],
        set_={
            "last_seen": now,
            "version": version,
            "local_revision": local_revision,
            "lag_s": lag_s,
            "rows_shipped": t.c.rows_shipped + stmt.excluded.rows_shipped,
        },
    )
    conn.execute(stmt)


def query(conn: Connection, sql: str, params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
    result = conn.execute(sa.text(sql), params or {})
    return list(result.keys()), [tuple(r) for r in result.fetchall()]

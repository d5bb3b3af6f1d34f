"""Helpers for the writer and retention tests: components, results, reads, and waiting on the loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from helpers import async_wait_until, open_db

from daemon.store.sqlite import connect
from daemon.types import CheckResult, Status

NOW = 1_800_000_000.0  # a fixed wall-clock instant, on an hour boundary


def add_components(db_path: Path, names: Iterable[str]) -> dict[str, int]:
    """Insert components the way the daemon's config sync would, before the writer starts."""
    conn = connect(db_path)
    try:
        ids = {}
        for name in names:
            cursor = conn.execute(
                "INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, 'tcp', 5, ?)",
                (name, NOW),
            )
            ids[name] = cursor.lastrowid
        return ids
    finally:
        conn.close()


def result(
    component: str,
    status: Status = Status.HEALTHY,
    *,
    ts: float = NOW,
    latency_ms: float = 10.0,
    message: str = "ok",
    injected: bool = False,
) -> CheckResult:
    error = None if status is Status.HEALTHY else "refused"
    return CheckResult(component, status, latency_ms, message, error, ts, injected)


def rows(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with open_db(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(db_path: Path, sql: str, params: tuple = ()) -> Any:
    return rows(db_path, sql, params)[0][0]


def insert_transition(component_id: int, reason: str) -> Callable:
    """A must-not-lose call like the breaker's: insert one transition, return its id."""

    def fn(conn) -> int:
        return conn.execute(
            "INSERT INTO breaker_transitions (component_id, ts, from_state, to_state, reason) "
            "VALUES (?, ?, 'closed', 'open', ?)",
            (component_id, NOW, reason),
        ).lastrowid

    return fn


until = async_wait_until  # the suite-wide helper, under the name these tests use

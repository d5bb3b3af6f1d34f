"""Seeding helpers for the store tests: insert rows the way the daemon would, with explicit times.

The views use the real clock, so rows are placed relative to `time.time()` at the start of the test.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.store.sqlite import connect


class Seeder:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.now = time.time()

    def insert(self, table: str, **values: Any) -> int:
        for key, value in values.items():
            if isinstance(value, (dict, list)):
                values[key] = json.dumps(value)
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = self.conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))
        return cursor.lastrowid

    def component(self, name: str, *, every_s: float = 5.0, weight: float = 1.0, **extra: Any) -> int:
        return self.insert(
            "components",
            name=name,
            check_kind=extra.pop("check_kind", "tcp"),
            every_s=every_s,
            weight=weight,
            loaded_at=extra.pop("loaded_at", self.now - 86400 * 3),
            **extra,
        )

    def result(self, component_id: int, ago: float, status: str = "healthy", **extra: Any) -> int:
        return self.insert(
            "check_results",
            component_id=component_id,
            ts=self.now - ago,
            status=status,
            latency_ms=extra.pop("latency_ms", 10.0),
            **extra,
        )

    def rollup(self, component_id: int, hours_ago: int, **counts: int | float) -> None:
        """One hourly rollup row `hours_ago` hours before the current hour; `total` is derived."""
        hour = int(self.now // 3600) * 3600 - hours_ago * 3600
        statuses = {s: int(counts.pop(s, 0)) for s in ("healthy", "degraded", "unhealthy", "unknown")}
        self.insert(
            "result_rollups_hourly",
            hour=hour,
            component_id=component_id,
            total=sum(statuses.values()),
            **statuses,
            **counts,
        )

    def transition(self, component_id: int, at: float, from_state: str, to_state: str, reason: str = "test") -> int:
        return self.insert(
            "breaker_transitions",
            component_id=component_id,
            ts=at,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
        )

    def incident(self, component_id: int, ago: float, **extra: Any) -> int:
        return self.insert(
            "incidents",
            component_id=component_id,
            opened_at=self.now - ago,
            trigger=extra.pop("trigger", "breaker opened"),
            **extra,
        )

    def recovery(self, incident_id: int, component_id: int, ago: float, status: str, **extra: Any) -> int:
        return self.insert(
            "recovery_events",
            incident_id=incident_id,
            component_id=component_id,
            strategy=extra.pop("strategy", "retry"),
            step=extra.pop("step", 0),
            attempt=extra.pop("attempt", 1),
            reason=extra.pop("reason", "test"),
            status=status,
            started_at=self.now - ago,
            **extra,
        )


@pytest.fixture
def seed(db_path: Path) -> Iterator[Seeder]:
    """A Seeder on a read-write connection to this test's database (autocommit)."""
    conn = connect(db_path)
    try:
        yield Seeder(conn)
    finally:
        conn.close()


@pytest.fixture
def view(db_path: Path):
    """`view(name)` → the view's rows as dicts, read the way `healerd report` reads them."""
    from daemon.store.views import query_view

    def read(name: str) -> list[dict[str, Any]]:
        columns, rows = query_view(db_path, name)
        return [dict(zip(columns, row)) for row in rows]

    return read

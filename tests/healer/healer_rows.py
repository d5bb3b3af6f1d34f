"""Rows the healer writes, inserted with explicit times into a migrated test database (tests/healer)."""

from __future__ import annotations

import sqlite3
from typing import Any

T0 = 1_800_000_000.0


class Rows:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert(self, table: str, **values: Any) -> int:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        return int(
            self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values())).lastrowid
        )

    def component(self, name: str) -> int:
        return self.insert("components", name=name, check_kind="http", every_s=1.0, loaded_at=T0 - 3600)

    def result(
        self, cid: int, ts: float, status: str = "healthy", error_class: str | None = None, message: str = "ok"
    ) -> int:
        return self.insert(
            "check_results",
            component_id=cid,
            ts=ts,
            status=status,
            latency_ms=5.0,
            error_class=error_class,
            message=message,
        )

    def incident(self, cid: int, opened_at: float, **extra: Any) -> int:
        return self.insert(
            "incidents",
            component_id=cid,
            opened_at=opened_at,
            trigger=extra.pop("trigger", "breaker"),
            status=extra.pop("status", "open"),
            **extra,
        )

    def decision(self, cid: int, incident: int | None, ts: float, kind: str, reason: str, **extra: Any) -> int:
        return self.insert(
            "decisions", component_id=cid, incident_id=incident, ts=ts, kind=kind, reason=reason, **extra
        )

    def event(self, cid: int, incident: int, started_at: float, status: str, **extra: Any) -> int:
        return self.insert(
            "recovery_events",
            component_id=cid,
            incident_id=incident,
            started_at=started_at,
            status=status,
            strategy=extra.pop("strategy", "retry"),
            step=extra.pop("step", 0),
            attempt=extra.pop("attempt", 1),
            reason=extra.pop("reason", "test"),
            **extra,
        )

    def transition(self, cid: int, ts: float, from_state: str, to_state: str, reason: str = "test") -> int:
        return self.insert(
            "breaker_transitions", component_id=cid, ts=ts, from_state=from_state, to_state=to_state, reason=reason
        )

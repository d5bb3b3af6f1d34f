"""An in-process stand-in for the daemon's runtime around a real Writer, and local seeding helpers."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

from daemon.clock import SYSTEM_CLOCK
from daemon.config.models import Fleet
from daemon.service.fleet import FleetShipper
from daemon.service.wiring import Store
from daemon.store.sqlite import connect
from daemon.store.writer import Writer


def fleet_settings(centre, **overrides) -> Fleet:
    values = {"url": centre.url, "password_file": centre.password_file, "host": "alpha", "batch": 100, "every": "1s"}
    values.update(overrides)
    return Fleet.model_validate(values)


class FakeRuntime:
    """The parts of service/runtime.py the fleet tests use: the writer, the db path, the clock, the config,
    and the FleetShipper built from them as the runtime builds it."""

    def __init__(self, db_path: Path, fleet: Fleet, components: tuple[str, ...] = ()) -> None:
        self.options = SimpleNamespace(db_path=db_path)
        self.clock = SYSTEM_CLOCK
        self.writer = Writer(db_path)
        settings = SimpleNamespace(
            fleet=fleet, retention=__import__("daemon.config.models", fromlist=["Retention"]).Retention()
        )
        self.config = SimpleNamespace(settings=settings, components=dict.fromkeys(components))

    @property
    def store(self) -> Store:
        return Store(submit=self.writer.submit, read=self.read, db_path=str(self.options.db_path))

    def shipper(self) -> FleetShipper:
        return FleetShipper(
            self.config.settings.fleet,
            config=lambda: self.config,
            clock=self.clock,
            store=self.store,
            submit_threadsafe=self.writer.submit_threadsafe,
        )

    def read(self, fn, *args):
        conn = connect(self.options.db_path, readonly=True)
        try:
            return fn(conn, *args)
        finally:
            conn.close()


def local(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def add_component(conn: sqlite3.Connection, name: str) -> int:
    return conn.execute(
        "INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES (?, 'tcp', 10, ?)", (name, time.time())
    ).lastrowid


def add_results(
    conn: sqlite3.Connection, component_id: int, n: int, *, ts: float | None = None, status: str = "healthy"
) -> None:
    base = time.time() if ts is None else ts
    conn.executemany(
        "INSERT INTO check_results (component_id, ts, status, latency_ms, injected) VALUES (?, ?, ?, 1.5, 0)",
        [(component_id, base + i * 0.001, status) for i in range(n)],
    )


def open_incident(conn: sqlite3.Connection, component_id: int) -> int:
    return conn.execute(
        "INSERT INTO incidents (component_id, opened_at, status, trigger) VALUES (?, ?, 'open', 'breaker opened')",
        (component_id, time.time()),
    ).lastrowid


def set_breaker(conn: sqlite3.Connection, component_id: int, state: str) -> None:
    now = time.time()
    conn.execute(
        """INSERT INTO breakers (component_id, state, since, updated_at, recent) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (component_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at""",
        (component_id, state, now, now, json.dumps([])),
    )

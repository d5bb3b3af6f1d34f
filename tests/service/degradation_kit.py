"""An in-process runtime for the degradation service: real migrated database, real writer, FakeClock.

The scheduler is left out on purpose: tests feed check results to the real Monitor themselves, at
fake-clock times, so every score, hold time and expiry is exact and nothing waits on a real check.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

from helpers import async_wait_until

from daemon.clock import FakeClock
from daemon.config.loader import load_config
from daemon.service.commands import CommandProcessor
from daemon.service.daemon import DaemonOptions
from daemon.service.degradation.service import DegradationService
from daemon.service.monitor import Monitor
from daemon.service.runtime import Runtime
from daemon.service.sdnotify import Notifier
from daemon.store import state as store_state
from daemon.types import CheckResult, Status

#: Two equal components and two flags: `extras` goes at reduced, `checkout` with component b.
SETTINGS = """
[daemon]
watch_config = false

[degradation]
hold = "60s"
snapshot_every = "1m"

[[degradation.flag]]
name = "extras"
off_at = "reduced"

[[degradation.flag]]
name = "checkout"
off_at = "emergency"
components = ["b"]
"""

POLICY = """
[[component]]
name = "a"
[component.check]
kind = "tcp"
port = 1
every = "10s"

[[component]]
name = "b"
[component.check]
kind = "tcp"
port = 1
every = "10s"
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o755)
    path.write_text(textwrap.dedent(text))
    os.chmod(path, 0o644)


until = async_wait_until  # the suite-wide helper, under the name these tests use


class Harness:
    def __init__(self, root: Path, db_path: Path, clock: FakeClock, settings: str, policy: str) -> None:
        self.config_dir = root / "etc"
        self.run_dir = root / "run"
        self.db_path = db_path
        self.clock = clock
        write(self.config_dir / "healerd.toml", settings)
        write(self.config_dir / "policies.d" / "p.toml", policy)
        os.chmod(self.config_dir, 0o755)
        self.runtime: Runtime | None = None

    @property
    def service(self) -> DegradationService:
        return self.runtime.degradation

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    async def start(self, env: dict | None = None) -> DegradationService:
        loaded, problems = load_config(self.config_dir)
        assert loaded is not None and not problems, problems
        options = DaemonOptions(
            config_dir=self.config_dir,
            db_path=self.db_path,
            clock=self.clock,
            env=env if env is not None else {"RUNTIME_DIRECTORY": str(self.run_dir)},
        )
        rt = Runtime(options, loaded, notifier=Notifier({}))
        await rt.writer.start()
        ids = await rt._sync_components()
        rt.monitor = Monitor(rt.config, rt.writer, self.clock, ids)
        rt.monitor.restore({})
        rt.commands = CommandProcessor(clock=rt.clock, store=rt.store, breakers=rt.monitor)
        rt.degradation = DegradationService(
            config=lambda: rt.config,
            clock=self.clock,
            store=rt.store,
            monitor=rt.monitor,
            commands=rt.commands.handlers,
            env=options.env,
        )
        self.runtime = rt
        await rt.degradation.start()
        return rt.degradation

    async def stop(self) -> None:
        rt, self.runtime = self.runtime, None
        if rt is None:
            return
        await rt.degradation.stop()
        await rt.monitor.stop(0)
        await rt.writer.stop()

    def result(self, name: str, status: Status) -> None:
        error = None if status is Status.HEALTHY else "refused"
        self.runtime.monitor.observe(
            CheckResult(
                component=name, status=status, latency_ms=1.0, message="test", error_class=error, ts=self.clock.wall()
            )
        )

    async def observe(self, **statuses: Status) -> list:
        """Feed one result per named component (at the clock's now), then evaluate; returns the changes."""
        for name, status in statuses.items():
            self.result(name, status)
        return await self.service.evaluate()

    async def settled(self) -> None:
        """Everything submitted so far is committed."""
        await self.runtime.writer.flush()

    def published(self) -> dict:
        return json.loads(self.state_file.read_text())

    def enqueue(self, command: str, args: dict) -> int:
        from daemon.store.oneshot import run_in_transaction

        return run_in_transaction(
            self.db_path, lambda conn: store_state.enqueue_command(conn, command, None, args, self.clock.wall())
        )

    def rows(self, sql: str, params=()) -> list[tuple]:
        from daemon.store.sqlite import connect

        conn = connect(self.db_path, readonly=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

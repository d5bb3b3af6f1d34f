"""Maintenance windows and silences in the daemon: who is covered now, recorded as it happens.

The answer comes from the pure `engine/maintenance.py` over the configured windows and the stored
silences (read at start and after every silence command). Each window occurrence is written to
`maintenance_periods` when it starts (once, even across restarts), so the views can leave the time out
of availability and show what was planned. Silence commands go through `operator_commands` like the
breaker's and are applied by the same function with or without a daemon (`apply_silence_command`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any

import structlog

from daemon.clock import Clock
from daemon.config.durations import format_duration, parse_duration
from daemon.engine.maintenance import Period, covering, window_periods
from daemon.errors import NotFoundError
from daemon.service.wiring import CommandHandler, ConfigGetter, Store
from daemon.store import maintenance_sql

log = structlog.get_logger(__name__)

TICK_S = 1.0
SILENCE_COMMANDS = ("silence", "silence_clear")


def apply_silence_command(conn, command: str, target: str, args: dict[str, Any], now: float) -> tuple[str, str]:
    """(status, outcome) of `healerd silence …`; raises NotFoundError for an unknown component."""
    who = "every component" if target == maintenance_sql.ALL else target
    if command == "silence":
        seconds = parse_duration(args["for"]).total_seconds()
        if seconds <= 0:
            return "rejected", "a silence must last longer than zero"
        reason = args.get("reason") or ""
        silence_id = maintenance_sql.add_silence(conn, target, seconds, reason, now)
        return "applied", (
            f"silence {silence_id}: {who} silenced for {format_duration(timedelta(seconds=seconds))}"
            + (f" ({reason})" if reason else "")
            + "; checks run, no actions, no escalations"
        )
    if command == "silence_clear":
        count = maintenance_sql.clear_silences(conn, target, now)
        return "applied", f"{count} silence(s) on {who} cleared" if count else f"no silence in force on {who}"
    raise ValueError(f"unknown silence command {command!r}")


def _record_window(conn: sqlite3.Connection, *, p: Period, component_id: int | None, now: float) -> None:
    maintenance_sql.record_window(conn, p.name, component_id, p.starts_at, p.ends_at, p.reason, now)


class Maintenance:
    def __init__(
        self,
        *,
        config: ConfigGetter,
        clock: Clock,
        store: Store,
        component_ids: Callable[[], Mapping[str, int]],
        commands: dict[str, CommandHandler],
        wake_healer: Callable[[], None],
    ) -> None:
        """`wake_healer()`: decide again now that a silence started or ended (the healer starts later)."""
        self._config = config
        self.clock = clock
        self.store = store
        self.component_ids = component_ids
        self.commands = commands
        self.wake_healer = wake_healer
        self.silences: list[Period] = []
        self._windows: list[Period] = []
        self._recorded: set[tuple] = set()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.reload_silences()
        self.tick()
        self.commands.update(dict.fromkeys(SILENCE_COMMANDS, self._command))
        self._task = asyncio.create_task(self._loop(), name="maintenance")

    async def stop(self) -> None:
        from daemon.service.tasks import cancel_and_wait

        if self._task is not None:
            await cancel_and_wait([self._task], what="maintenance")

    def covering(self, component: str, now: float | None = None) -> Period | None:
        # every check result asks (Monitor.observe): with nothing declared or silenced, the answer
        # needs neither the clock nor a merged list
        if not self._windows and not self.silences:
            return None
        now = self.clock.wall() if now is None else now
        return covering(self._windows + self.silences, component, now)

    def tick(self) -> None:
        """Recompute the windows in force; record each new occurrence (not awaited: never blocks checks)."""
        now = self.clock.wall()
        self._windows = window_periods(self._config().settings.maintenance, now)
        ids = self.component_ids()
        for p in self._windows:
            key = (p.name, p.component, p.starts_at)
            if key in self._recorded:
                continue
            self._recorded.add(key)
            component_id = None if p.component is None else ids.get(p.component)
            if p.component is not None and component_id is None:
                continue
            log.info("maintenance window in force", window=p.name, component=p.component or "*", ends_at=p.ends_at)
            self.store.submit(partial(_record_window, p=p, component_id=component_id, now=now))

    async def reload_silences(self) -> None:
        rows = await asyncio.to_thread(self.store.read, maintenance_sql.active_silences, self.clock.wall())
        self.silences = [
            Period("silence", None, r["component"], r["starts_at"], r["ends_at"], r["reason"] or "", r["id"])
            for r in rows
        ]

    async def _command(self, cmd: dict[str, Any]) -> tuple[str, str]:
        now = self.clock.wall()
        try:
            result = await self.store.submit(
                lambda conn: apply_silence_command(conn, cmd["command"], cmd["target"], cmd["args"], now)
            )
        except NotFoundError as exc:
            return "rejected", str(exc)
        await self.reload_silences()
        self.wake_healer()
        return result

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.tick()
            except Exception:
                log.exception("maintenance tick failed; trying again")

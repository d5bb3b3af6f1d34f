"""Escalate decisions: record the messages, then deliver them in the background.

The `escalations` rows (one per channel, `pending`), the ladder's `record_escalation` and the decision
commit in one transaction before anything is sent, so a crash can neither lose a message nor send one
the ladder does not know about: rows left `pending` are sent again at the next start (at-least-once).
Delivery (engine/notify/: retries with backoff, bounded per attempt) runs in its own task per
message, so a slow webhook never holds up the healer's pass.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import structlog

from daemon import logctx
from daemon.clock import Clock
from daemon.engine.actions import last_lines
from daemon.engine.decision import Escalate
from daemon.engine.heal_apply import applied
from daemon.engine.ladder import LadderState
from daemon.engine.notification import Notification, incident_link
from daemon.engine.notify import deliver
from daemon.engine.notify_group import combine, waiting_note
from daemon.service.healer.commit import LadderCommits
from daemon.service.healer.state import LadderBook
from daemon.service.monitor import Monitor
from daemon.service.tasks import cancel_and_wait
from daemon.service.wiring import ConfigGetter, Store
from daemon.store import escalations_sql, healer_sql

log = structlog.get_logger(__name__)


def describe_failed(event: dict | None) -> str | None:
    """ "retry step 1 attempt 3: exit 1: <last lines of its output>" for a recovery_events row."""
    if event is None:
        return None
    code = f": exit {event['exit_code']}" if event["exit_code"] is not None else ""
    tail = last_lines(event["output"])
    head = f"{event['strategy']} step {event['step'] + 1} attempt {event['attempt']}{code}"
    return head + (f": {' | '.join(tail.splitlines())}" if tail else "")


class Escalations:
    def __init__(
        self,
        *,
        config: ConfigGetter,
        clock: Clock,
        store: Store,
        monitor: Monitor,
        book: LadderBook,
        commits: LadderCommits,
        incident_base: Callable[[], str | None],
    ) -> None:
        self._config = config
        self.clock = clock
        self.store = store
        self.monitor = monitor
        self.book = book
        self.commits = commits
        self.incident_base = incident_base
        self._tasks: set[asyncio.Task] = set()
        #: (channel, resolved?) → messages held for the channel's group_wait
        self._groups: dict[tuple[str, bool], list] = {}

    async def start(self, name: str, state: LadderState, d: Escalate, now: float) -> None:
        if d.incident_id is None:
            raise ValueError("an escalation belongs to an incident")
        incident_id = int(d.incident_id)

        def rows_and_failed(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
            rows = [escalations_sql.open_escalation(conn, incident_id, channel, d.kind, now) for channel in d.channels]
            return rows, healer_sql.last_failed_event(conn, incident_id)

        # the rows, the ladder's record_escalation and the decision in one transaction (commit.py)
        written = await self.commits.commit(
            name, applied(state, d, now), now, decision=d, incident_id=incident_id, rows=rows_and_failed
        )
        assert written is not None
        rows, failed = written
        log.warning("escalation", component=name, incident=incident_id, kind=d.kind, channels=list(d.channels))
        waiting = waiting_note(self._dependents_waiting(name)) if d.kind != "resolved" else ""
        message = self._message(
            name, incident_id, d.kind, d.reason + (f"; {waiting}" if waiting else ""), describe_failed(failed)
        )
        for row in rows:
            if row["status"] != "delivered":
                self._group(row, message)

    def _dependents_waiting(self, name: str) -> list[str]:
        """Sick components that depend on `name` (directly or not): their healing waits for it, so the
        root cause's message names them (whether or not their own incident has noted the wait yet)."""
        monitor = self.monitor
        out = []
        for other in self._config().dependents(name):
            state = self.book.get(other)
            breaker = monitor.breakers.get(other)
            last = monitor.last.get(other)
            if (
                state.incident is not None
                or (last is not None and last.status.is_failure)
                or (breaker is not None and breaker.state.value not in ("closed", "disabled"))
            ):
                out.append(other)
        return out

    def _group(self, row: dict, message: Notification) -> None:
        """Hold the message for its channel's `group_wait`, folding in whatever else is raised meanwhile
        (resolved messages in their own group); never drops one: the group is sent as one message."""
        channel = self._config().settings.notify.get(row["channel"])
        wait = channel.group_wait.total_seconds() if channel is not None else 0.0
        if wait <= 0:
            self._spawn_group([(row, message)])
            return
        key = (row["channel"], message.kind == "resolved")
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = []
            task = asyncio.create_task(self._flush_after(key, wait), name=f"escalation-group:{row['channel']}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        group.append((row, message))

    async def _flush_after(self, key: tuple[str, bool], wait: float) -> None:
        await asyncio.sleep(wait)
        items = self._groups.pop(key, [])
        if items:
            await self._deliver_group(items)

    def _spawn_group(self, items: list) -> None:
        task = asyncio.create_task(self._deliver_group(items), name=f"escalation:{items[0][0]['id']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_group(self, items: list) -> None:
        if len(items) > 1:
            log.info(
                "escalations grouped",
                channel=items[0][0]["channel"],
                count=len(items),
                components=sorted({m.component for _, m in items}),
            )
        await self._deliver([row for row, _ in items], combine([m for _, m in items]))

    async def resend_pending(self) -> None:
        """Messages a previous daemon recorded but did not finish sending go out again (at-least-once).

        Read before the healer's first pass, so a row this daemon creates is never picked up twice."""
        try:
            rows = await asyncio.to_thread(self.store.read, _pending_with_component)
        except Exception:
            log.exception("cannot read pending escalations; they stay pending until the next start")
            return
        for row in rows:
            reason = f"sent again after a restart (recorded {row['kind']} message was not delivered)"
            self._group(row, self._message(row["component"], row["incident_id"], row["kind"], reason))

    def _message(
        self, name: str, incident_id: int, kind: str, reason: str, last_action: str | None = None
    ) -> Notification:
        last = self.monitor.last.get(name)
        breaker = self.monitor.breakers.get(name)
        if kind == "resolved":
            status = "resolved"
        else:
            status = (last.status.value if last is not None else "unknown") + (
                f", breaker {breaker.state.value}" if breaker is not None else ""
            )
        error = None
        if last is not None and last.status.is_failure:
            error = f"{last.error_class}: {last.message}" if last.error_class else last.message
        # [http] on: link to its incident page unless incident_url says otherwise
        link = incident_link(self._config().settings.daemon.incident_url or self.incident_base(), incident_id)
        return Notification(
            component=name,
            incident=incident_id,
            kind=kind,
            status=status,
            reason=reason,
            error=error,
            link=link,
            ts=self.clock.wall(),
            last_action=last_action,
        )

    async def _deliver(self, rows: list[dict], message: Notification) -> None:
        """One delivery for a group; every row of the group is finished with its outcome."""
        row = rows[0]
        config = self._config()
        channel = config.settings.notify.get(row["channel"])
        with logctx.only(component=message.component, incident=message.incident):
            error: str | None
            if channel is None:
                delivered, attempts, error = False, 0, f"no notify channel named {row['channel']!r} is configured"
            else:
                outcome = await deliver(channel, message, cwd=config.directory)
                delivered, attempts, error = outcome.delivered, outcome.attempts, outcome.error
            now = self.clock.wall()

            def write(conn):
                for r in rows:
                    escalations_sql.finish_escalation(
                        conn, r["id"], delivered=delivered, attempts=attempts, error=error, now=now
                    )

            await self.store.submit(write)
            log.info(
                "escalation delivery",
                channel=row["channel"],
                kind=row["kind"],
                delivered=delivered,
                attempts=attempts,
                error=error,
            )

    async def stop(self) -> None:
        """Deliveries still running are cancelled: their rows stay `pending` and go out after a restart."""
        await cancel_and_wait(list(self._tasks), timeout=10.0, what="escalations")


def _pending_with_component(conn) -> list[dict]:
    rows = escalations_sql.pending(conn)
    names = dict(conn.execute("SELECT id, name FROM components").fetchall())
    return [{**row, "component": names.get(row["component_id"], "?")} for row in rows]

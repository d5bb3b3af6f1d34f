"""Escalate decisions: record the messages, then deliver them in the background.

The `escalations` rows (one per channel, `pending`), the ladder's `record_escalation` and the decision
commit in one transaction before anything is sent, so a crash can neither lose a message nor send one
the ladder does not know about: rows left `pending` are sent again at the next start (at-least-once).
Delivery (engine/notify.py: retries with backoff, bounded per attempt) runs in its own task per
message, so a slow webhook never holds up the healer's pass.
"""

from __future__ import annotations

import asyncio

import structlog

from daemon.engine.decision import Escalate
from daemon.engine.ladder import LadderState, record_escalation
from daemon.engine.notify import Notification, deliver, incident_link
from daemon.service.healer_state import store_fn
from daemon.service.tasks import cancel_and_wait
from daemon.store import escalations_sql, healer_sql

log = structlog.get_logger(__name__)


class Escalations:
    def __init__(self, healer) -> None:
        self.healer = healer
        self._tasks: set[asyncio.Task] = set()

    @property
    def rt(self):
        return self.healer.rt

    async def start(self, name: str, state: LadderState, d: Escalate, now: float) -> None:
        from daemon.service.healer import decision_columns, decision_key

        healer = self.healer
        incident_id = int(d.incident_id)
        new = record_escalation(state, d.kind, d.index, d.channels, now, d.incident_id)
        component_id = healer.book.component_id(name)
        save = store_fn(component_id, new, healer._cooldown(), now)
        columns = decision_columns(d)
        decision_id = healer.intents.take("decisions")  # ids of these tables come from the daemon (intent_journal.py)

        def write(conn):
            rows = [escalations_sql.open_escalation(conn, incident_id, channel, d.kind, now) for channel in d.channels]
            save(conn)
            healer_sql.insert_decision(conn, component_id=component_id, incident_id=incident_id, ts=now,
                                       reason=d.reason, id=decision_id, **columns)
            return rows

        rows = await self.rt.writer.submit(write)
        healer.book.set(name, new)
        healer._last_key[name] = decision_key(d, incident_id)
        log.warning("escalation", component=name, incident=incident_id, kind=d.kind, channels=list(d.channels))
        message = self._message(name, incident_id, d.kind, d.reason)
        for row in rows:
            if row["status"] != "delivered":
                self._spawn(row, message)

    async def resend_pending(self) -> None:
        """Messages a previous daemon recorded but did not finish sending go out again (at-least-once).

        Read before the healer's first pass, so a row this daemon creates is never picked up twice."""
        try:
            rows = await asyncio.to_thread(self.rt._read, _pending_with_component)
        except Exception:
            log.exception("cannot read pending escalations; they stay pending until the next start")
            return
        for row in rows:
            reason = f"sent again after a restart (recorded {row['kind']} message was not delivered)"
            self._spawn(row, self._message(row["component"], row["incident_id"], row["kind"], reason))

    def _message(self, name: str, incident_id: int, kind: str, reason: str) -> Notification:
        last = self.rt.monitor.last.get(name)
        breaker = self.rt.monitor.breakers.get(name)
        if kind == "resolved":
            status = "resolved"
        else:
            status = (last.status.value if last is not None else "unknown") + (
                f", breaker {breaker.state.value}" if breaker is not None else ""
            )
        error = None
        if last is not None and last.status.is_failure:
            error = f"{last.error_class}: {last.message}" if last.error_class else last.message
        link = incident_link(self.rt.config.settings.daemon.incident_url, incident_id)
        return Notification(component=name, incident=incident_id, kind=kind, status=status, reason=reason,
                            error=error, link=link, ts=self.healer.clock.wall())

    def _spawn(self, row: dict, message: Notification) -> None:
        task = asyncio.create_task(self._deliver(row, message), name=f"escalation:{row['id']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, row: dict, message: Notification) -> None:
        config = self.rt.config
        channel = config.settings.notify.get(row["channel"])
        with structlog.contextvars.bound_contextvars(component=message.component, incident=message.incident):
            if channel is None:
                delivered, attempts, error = False, 0, f"no notify channel named {row['channel']!r} is configured"
            else:
                outcome = await deliver(channel, message, cwd=config.directory)
                delivered, attempts, error = outcome.delivered, outcome.attempts, outcome.error
            now = self.healer.clock.wall()
            await self.rt.writer.submit(lambda conn: escalations_sql.finish_escalation(
                conn, row["id"], delivered=delivered, attempts=attempts, error=error, now=now))
            log.info("escalation delivery", channel=row["channel"], kind=row["kind"], delivered=delivered,
                     attempts=attempts, error=error)

    async def stop(self) -> None:
        """Deliveries still running are cancelled: their rows stay `pending` and go out after a restart."""
        await cancel_and_wait(list(self._tasks), timeout=10.0, what="escalations")


def _pending_with_component(conn) -> list[dict]:
    rows = escalations_sql.pending(conn)
    names = dict(conn.execute("SELECT id, name FROM components").fetchall())
    return [{**row, "component": names.get(row["component_id"], "?")} for row in rows]

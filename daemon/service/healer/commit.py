"""The one way the healer writes a ladder change: its rows, the new ladder and the decision in one
transaction, then memory — for every caller (decisions, incidents, step outcomes, escalations, operator
commands, the start-up restore).

Order matters and is kept in one place: memory (`LadderBook`, the last decision's key) changes only
after the transaction committed (or was journaled), so a failed write never leaves the healer believing
something the database does not say. Two ways to the database, chosen by what the caller needs:

- `ops` only (the usual case): the write is data (store/intent_journal.py) committed through `Intents`,
  which waits a bounded time for the database and otherwise journals it, so a locked database never
  stops healing;
- with `rows`, a function of the connection whose result the caller needs (the escalation rows and their
  ids, the rows an operator command writes): one plain writer transaction, `rows(conn)` first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import structlog

from daemon.engine.decision import Decision
from daemon.engine.heal_apply import DecisionKey, IncidentId, decision_columns, decision_key
from daemon.engine.ladder import LadderState
from daemon.service.healer.state import LadderBook, ladder_op
from daemon.service.wiring import Submit
from daemon.store.intent_journal import Entry, apply_entry
from daemon.store.intent_journal import entry as intent_entry

log = structlog.get_logger(__name__)

T = TypeVar("T")
#: `anchor` default: the decision row's own id (the entry committed iff that row exists)
BY_DECISION: list[Any] = ["by-decision"]


class IntentSink(Protocol):
    def take(self, table: str) -> int: ...

    async def commit(self, e: Entry) -> None: ...


class LadderCommits:
    def __init__(self, book: LadderBook, intents: IntentSink, submit: Submit, cooldown: Callable[[], float]) -> None:
        self.book = book
        self.intents = intents
        self.submit = submit
        self.cooldown = cooldown
        #: per component, the key of the last decision recorded (heal_apply.decision_key)
        self.last_key: dict[str, DecisionKey] = {}

    def decision_op(
        self, component_id: int | None, d: Decision, incident_id: IncidentId, now: float
    ) -> dict[str, Any] | None:
        if component_id is None:
            return None
        return {
            "op": "decision",
            "id": self.intents.take("decisions"),
            "component_id": component_id,
            "ts": now,
            "reason": d.reason,
            "incident_id": None if incident_id is None else int(incident_id),
            **decision_columns(d),
        }

    async def commit(
        self,
        name: str,
        new: LadderState | None,
        now: float,
        *,
        decision: Decision | None = None,
        incident_id: IncidentId = None,
        ops: Sequence[dict[str, Any] | None] = (),
        anchor: list[Any] | None = BY_DECISION,
        rows: Callable[[sqlite3.Connection], T] | None = None,
    ) -> T | None:
        """Commit `ops`, the ladder `new` (None: unchanged) and `decision` (None: no row) together, then
        remember them. Returns what `rows` returned (None without `rows`)."""
        component_id = self.book.component_id(name)
        decision_row = self.decision_op(component_id, decision, incident_id, now) if decision is not None else None
        ladder = ladder_op(component_id, new, self.cooldown(), now) if new is not None else None
        all_ops = [*ops, ladder, decision_row]
        result: T | None = None
        if rows is None:
            if anchor is BY_DECISION:
                anchor = ["absent", "decisions", decision_row["id"]] if decision_row is not None else None
            await self.intents.commit(intent_entry(anchor, all_ops))
        else:
            e = intent_entry(None, all_ops)

            def write(conn: sqlite3.Connection) -> T:
                value = rows(conn)
                apply_entry(conn, e)
                return value

            result = await self.submit(write)
        if new is not None:
            self.book.set(name, new)
        if decision is not None:
            self.last_key[name] = decision_key(decision, incident_id)
        return result

    def store_quietly(self, name: str, state: LadderState, now: float) -> Any:
        """Persist a state that changed without a row of its own (healthy_since); returns the future,
        not awaited by the pass."""
        op = ladder_op(self.book.component_id(name), state, self.cooldown(), now)
        future = self.submit(lambda conn: apply_entry(conn, intent_entry(None, [op])) if op is not None else None)
        self.book.dirty.discard(name)
        return future

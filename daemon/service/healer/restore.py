"""Daemon start: bring every ladder back, and close the books on what the previous daemon left running.

A `started` recovery event means the daemon stopped (or was killed) between the intent and the outcome.
Its action may or may not have run to the end; nobody verified it. It becomes `interrupted`, and the
ladder applies `record_finished(..., INTERRUPTED)`: the attempt was counted once when it started and is
not counted again, and it counts as a failure for the backoff, so a daemon in a crash loop cannot
restart a service once per daemon start. Then the incident is decided again like any other.

The stored ladder and the `incidents` table are written in the same transactions, so they agree; should
they not (a database restored from a backup, rows edited by hand), the table wins: an open incident is
adopted, a ladder's incident that is no longer open is dropped.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog

from daemon.engine.ladder import FAILBACK, IncidentState, Outcome, record_finished
from daemon.store import healer_sql

if TYPE_CHECKING:
    from daemon.service.healer.loop import Healer

log = structlog.get_logger(__name__)


def _read_all(conn):
    return healer_sql.load_ladders(conn), healer_sql.open_incidents(conn), healer_sql.started_events(conn)


async def restore(healer: Healer) -> None:
    stored, incidents, started = await asyncio.to_thread(healer.store.read, _read_all)
    for problem in healer.book.load(stored):
        log.error("ladder state", problem=problem)
    now = healer.clock.wall()
    names = set(healer.book.ladders) | set(incidents) | {e["component"] for e in started}
    for name in sorted(names):
        state = before = healer.book.get(name)
        row = incidents.get(name)
        if row is not None and (state.incident is None or str(state.incident.id) != str(row["id"])):
            state = replace(
                state,
                incident=IncidentState(
                    id=row["id"],
                    opened_at=row["opened_at"],
                    trigger=row["trigger"],
                    waiting_on=row["waiting_on"],
                    acked_at=row["acked_at"],
                ),
            )
            log.warning("adopted an open incident the ladder did not know", component=name, incident=row["id"])
        elif row is None and state.incident is not None:
            state = replace(state, incident=None)
        if state.in_progress is not None:
            run = state.in_progress
            step = _step_config(healer.config, name, run.index, run.strategy)
            state = record_finished(state, step, Outcome.INTERRUPTED, now, healer.rng)
        events = [e for e in started if e["component"] == name]
        if state == before and not events:
            continue

        def interrupted(conn: sqlite3.Connection, events: list[dict[str, Any]] = events) -> None:
            for event in events:
                healer_sql.finish_event(
                    conn,
                    event["id"],
                    status="interrupted",
                    finished_at=now,
                    output="interrupted: healerd stopped before this step's outcome was recorded; "
                    "the attempt stays counted once and the incident is decided again",
                )

        await healer.commits.commit(name, state, now, rows=interrupted)
        for event in events:
            log.warning(
                "recovery step interrupted by a restart",
                component=name,
                event_id=event["id"],
                strategy=event["strategy"],
                step=event["step"],
                attempt=event["attempt"],
            )


def _step_config(config, name: str, index: int, strategy: str):
    """The step as configured now, if it is still the same kind of step (a reload may have moved it)."""
    component = config.components.get(name)
    if component is None or strategy == FAILBACK or index >= len(component.recovery):
        return None
    step = component.recovery[index]
    return step if step.strategy == strategy else None

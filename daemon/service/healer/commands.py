"""Operator commands for the healer: `ack` (stop reminders of the open incident) and `heal` (start a recovery).

Both arrive through `operator_commands` (see service/commands.py). With a daemon running, its handler
applies the ladder reducer to the in-memory ladder under the component's lock and stores the result
with the incident row; without one, the CLI applies the same reducer to the stored ladder JSON in one
transaction (`ack_offline`, `heal_offline`). Either way the change is in `ladder_state` and the
incident, so a daemon started later knows it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from daemon.engine.ladder import LadderState, record_ack, request_recovery
from daemon.service.healer.state import store_fn
from daemon.store import healer_sql

if TYPE_CHECKING:
    from daemon.service.healer.loop import Healer
    from daemon.service.wiring import CommandHandler

#: a command's reducer: (ladder, now) → (new ladder or None, status, outcome, rows to write or None)
Command = Callable[[LadderState, float], tuple[LadderState | None, str, str, Any]]

#: without a daemon the cooldown setting is unknown; it only feeds a mirror column, refreshed on start.
_OFFLINE_COOLDOWN = 60.0


def install(healer: Healer, handlers: dict[str, CommandHandler]) -> None:
    handlers["ack"] = lambda cmd: _online(healer, cmd, _ack)
    handlers["heal"] = lambda cmd: _online(healer, cmd, _heal)


def _ack(state: LadderState, now: float) -> tuple[LadderState | None, str, str, Any]:
    """(new state or None, status, outcome, rows fn) for `ack`."""
    inc = state.incident
    if inc is None:
        return None, "rejected", "no open incident to acknowledge", None
    if inc.acked_at is not None:
        return None, "applied", f"incident {inc.id} was already acknowledged", None
    incident_id = int(inc.id)
    return (
        record_ack(state, now),
        "applied",
        f"incident {inc.id} acknowledged: no more reminders (the resolved message is still sent)",
        lambda conn: healer_sql.ack_incident(conn, incident_id, now),
    )


def _heal(state: LadderState, now: float) -> tuple[LadderState | None, str, str, Any]:
    if state.in_progress is not None:
        return None, "rejected", f"a {state.in_progress.strategy} step is already in progress", None
    return request_recovery(state, now), "applied", "recovery requested: the ladder runs its next eligible step", None


async def _online(healer: Healer, cmd: dict[str, Any], command: Command) -> tuple[str, str]:
    name = cmd["target"]
    if name not in healer.config.components:
        return "rejected", f"no component named {name!r}"
    async with healer.book.locks[name]:
        now = healer.clock.wall()
        new, status, outcome, rows = command(healer.book.get(name), now)
        if new is None:
            return status, outcome
        await healer.commits.commit(name, new, now, rows=lambda conn: rows(conn) if rows is not None else None)
    healer.wake()
    return status, outcome


def _offline(conn, name: str, command) -> tuple[str, str]:
    from daemon.errors import NotFoundError
    from daemon.store import state as store_state

    component_id = store_state.component_ids(conn).get(name)
    if component_id is None:
        raise NotFoundError(f"no component named {name!r} in the database")
    state = LadderState.from_json(healer_sql.load_ladder(conn, component_id))
    now = _now()
    new, status, outcome, rows = command(state, now)
    if new is not None:
        if rows is not None:
            rows(conn)
        store_fn(component_id, new, _OFFLINE_COOLDOWN, now)(conn)
    return status, outcome


def ack_offline(name: str):
    return lambda conn, command_id: _offline(conn, name, _ack)


def heal_offline(name: str):
    return lambda conn, command_id: _offline(conn, name, _heal)


def _now() -> float:
    from daemon.clock import SYSTEM_CLOCK

    return SYSTEM_CLOCK.wall()

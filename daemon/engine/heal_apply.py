"""How a decision changes the ladder, and which decisions get a `decisions` row: the healer's pure stepping.

The daemon (`service/healer*.py`) and the replay (`engine/replay.py`) both drive `decide()` through
these functions, so "what the daemon would have done" is computed by the daemon's own rules rather than
by a copy of them: the daemon wraps each call with its database write, the replay with a simulated
clock. Keeping this apart from the service is what makes `healerd replay` reproduce a recorded history.
"""

from __future__ import annotations

import re
from typing import Any

from daemon.engine.decision import (
    CloseIncident,
    Decision,
    Escalate,
    Failback,
    Nothing,
    OpenIncident,
    RunStep,
    Wait,
    nothing_to_heal,
)
from daemon.engine.ladder import (
    FAILBACK,
    LadderState,
    note_waiting,
    on_breaker_closed,
    open_incident,
    record_escalation,
    record_started,
)
from daemon.types import BreakerState

#: elapsed times inside a reason ("2.4s", "7m"): blanked when deciding whether a decision is new.
SPAN = re.compile(r"\d+(?:\.\d+)?(?:ms|s|m|h|d)")
KINDS = {
    Wait: "wait",
    RunStep: "run_step",
    Escalate: "escalate",
    Nothing: "nothing",
    Failback: "failback",
    OpenIncident: "open_incident",
    CloseIncident: "close_incident",
}
_PASSING = (BreakerState.CLOSED, BreakerState.DISABLED)


#: what makes a decision new (see decision_key); compared, never unpacked
DecisionKey = tuple[Any, ...]
IncidentId = int | str | None


def decision_columns(d: Decision) -> dict[str, Any]:
    """kind, step, strategy, until of a `decisions` row (reason and ids are added by the caller)."""
    step = getattr(d, "index", None)
    strategy = {RunStep: getattr(d, "strategy", None), Escalate: "escalate", Failback: "fallback"}.get(type(d))
    return {"kind": KINDS[type(d)], "step": step, "strategy": strategy, "until": getattr(d, "until", None)}


def decision_key(d: Decision, incident_id: IncidentId) -> DecisionKey:
    """What makes a decision new: its kind, step, incident and reason, with elapsed times blanked."""
    until = getattr(d, "until", None)
    return (
        type(d).__name__,
        getattr(d, "index", None),
        incident_id,
        getattr(d, "waiting_on", None),
        None if until is None else round(until),
        SPAN.sub("…", d.reason),
    )


def is_quiet(state: LadderState, breaker: BreakerState, last_key: DecisionKey | None) -> bool:
    """Healthy with nothing pending and nothing new to record: decide() would say the same Nothing again
    (tests/engine/test_quiet_properties.py). Under a maintenance window decide() would say Wait instead,
    which changes no state: the shortcut does not record it for a healthy component."""
    return (
        breaker in _PASSING
        and state.incident is None
        and state.fallback is None
        and state.in_progress is None
        and not state.resolved_pending
        and state.operator_requested_at is None
        and (last_key is None or last_key == decision_key(nothing_to_heal(breaker), None))
    )


def notes_waiting(state: LadderState, d: Decision) -> bool:
    """A Wait naming a dependency the open incident has not noted yet (`incidents.waiting_on` changes)."""
    return (
        isinstance(d, Wait)
        and d.waiting_on is not None
        and state.incident is not None
        and state.incident.waiting_on != d.waiting_on
    )


def is_recorded(state: LadderState, d: Decision, last_key: DecisionKey | None, incident_id: IncidentId) -> bool:
    """Whether applying `d` writes a `decisions` row: every decision that changes the ladder does; a
    Wait or Nothing only when it differs from the last one recorded (and a first Nothing never)."""
    if isinstance(d, (OpenIncident, CloseIncident, RunStep, Failback, Escalate)) or notes_waiting(state, d):
        return True
    return last_key != decision_key(d, incident_id) and not (isinstance(d, Nothing) and last_key is None)


def applied(state: LadderState, d: Decision, now: float, incident_id: IncidentId = None) -> LadderState | None:
    """The ladder once the service has applied `d` at `now` (None: `d` changes no state).

    OpenIncident needs the new incident's id (the daemon's comes from the row it inserts). A RunStep or
    Failback counts its attempt here (intent); its outcome is `ladder.record_finished` once verified.
    """
    if isinstance(d, OpenIncident):
        if incident_id is None:
            raise ValueError("OpenIncident is applied with the new incident's id")
        return open_incident(state, incident_id, d.trigger, now)
    if isinstance(d, CloseIncident):
        return on_breaker_closed(state, now)
    if isinstance(d, Failback):
        return record_started(state, d.index, FAILBACK, now, d.candidate)
    if isinstance(d, RunStep):
        return record_started(state, d.index, d.strategy, now, d.candidate)
    if isinstance(d, Escalate):
        return record_escalation(state, d.kind, d.index, d.channels, now, d.incident_id)
    if isinstance(d, Wait) and notes_waiting(state, d):
        return note_waiting(state, d.waiting_on)
    return None


def heals_breaker(d: Decision, succeeded: bool) -> bool:
    """A verified step other than a fallback proves the component itself back: its breaker goes
    half-open at once (a fallback verifies the standby, not the primary, so it does not count)."""
    return succeeded and isinstance(d, RunStep) and d.strategy != "fallback"

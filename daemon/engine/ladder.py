"""The recovery ladder's memory for one component, as plain data, and the pure reducers that change it.

`decide()` reads a `LadderState`; the service applies what then happened through the reducers below and
persists the result (`to_json()`) in the same transaction as the matching row (incident, recovery event,
escalation), so the state survives kill -9 and always agrees with the recorded history. Every time is
wall-clock UTC unix seconds, because a stored deadline (`next_at`) must mean the same instant after a
restart: a daemon that crashes during a backoff wait does not retry at once when it comes back.

Budget accounting (the rule the kill -9 test pins):
- An attempt counts when it *starts* (`record_started`), once. Counting at the start is what bounds the
  number of actions launched even when an action itself takes the daemon down.
- A `started` event found after a restart is finished as `Outcome.INTERRUPTED`: it stays counted once,
  no further attempt is added, and it is treated like a failure for backoff, so a daemon in a crash loop
  cannot restart a service once per daemon start. The retry after the restart is a new attempt (it runs
  again) and counts once more, like any other.
- Only the newest `step.attempts` start times of a step are kept: "spent" means the attempts-th newest
  start is inside the window, so nothing older can matter, and pruning by count (not by time) stays
  exact even if the wall clock steps backwards.

Step records are keyed `"<index>:<strategy>"` so a reload that reorders the ladder does not hand one
step's budget to another.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from daemon.policies.backoff import next_delay
from daemon.types import BreakerState, Status

#: the pseudo-strategy of a failback (deactivating an active fallback); not a ladder step.
FAILBACK = "failback"
_SCHEMA_VERSION = 1
_UNBOUNDED_KEEP = 1000
#: incident open times kept for flapping detection (`Flapping.opens` is rarely more than a handful).
_FLAP_KEEP = 50


class Outcome(str, enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


def step_key(index: int, strategy: str) -> str:
    return f"{index}:{strategy}"


@dataclass(frozen=True)
class StepRecord:
    #: wall start times of the newest attempts (at most `attempts` of them after a finish).
    attempts: tuple[float, ...] = ()
    #: failed or interrupted attempts since the last success: the backoff exponent.
    failures: int = 0
    prev_delay: float | None = None
    #: no new attempt of this step before this instant (the persisted backoff wait).
    next_at: float | None = None


@dataclass(frozen=True)
class InProgress:
    index: int
    strategy: str
    started_at: float
    candidate: str | None = None


@dataclass(frozen=True)
class Escalation:
    index: int
    channels: tuple[str, ...]
    first_at: float
    #: the last initial or reminder message: reminders are spaced from it.
    last_at: float
    reminders: int = 0


@dataclass(frozen=True)
class IncidentState:
    id: int | str
    opened_at: float
    #: "breaker" or "operator".
    trigger: str
    waiting_on: str | None = None
    escalation: Escalation | None = None
    acked_at: float | None = None
    #: fallback candidates that failed verification in this incident: tried again only if nothing else is left.
    failed_candidates: tuple[str, ...] = ()
    #: incidents of this component that came before this one without a long healthy spell between
    #: (`LadderState.repeats` when it opened): the restart backoff's exponent.
    repeat: int = 0
    #: when the first action of this incident started (the restart backoff only holds back the first).
    first_action_at: float | None = None
    #: a flapping incident (issue 10): open through every flap, its own small action budget.
    flapping: bool = False
    #: recovery actions started in this incident (failbacks aside).
    actions: int = 0
    #: a recovery of this incident was verified (so its end is not a flap).
    healed: bool = False


@dataclass(frozen=True)
class ActiveFallback:
    index: int
    candidate: str
    since: float
    incident_id: int | str
    #: a failed failback is tried again only `failback_after` after this.
    failback_failed_at: float | None = None


@dataclass(frozen=True)
class PendingResolved:
    """An escalated incident closed; its `resolved` message is still owed (survives a restart)."""

    incident_id: int | str
    index: int
    channels: tuple[str, ...]
    closed_at: float
    #: the closed incident was a flapping one: its message says the flapping ended.
    flapping: bool = False


@dataclass(frozen=True)
class LadderState:
    incident: IncidentState | None = None
    #: keyed by `step_key(index, strategy)`; treat as immutable (reducers copy it).
    steps: Mapping[str, StepRecord] = field(default_factory=dict)
    in_progress: InProgress | None = None
    fallback: ActiveFallback | None = None
    resolved_pending: tuple[PendingResolved, ...] = ()
    last_success_at: float | None = None
    #: healthy (check passing, breaker closed) without a break since then; None while not healthy.
    healthy_since: float | None = None
    #: an operator asked for a recovery (`healerd heal NAME`); consumed when a step starts.
    operator_requested_at: float | None = None
    last_incident_id: int | str | None = None
    #: incidents opened since the component was last healthy for `restart_backoff_reset`.
    repeats: int = 0
    #: open times of the newest incidents that ended by themselves (flaps; detection counts those
    #: within its window).
    flap_opens: tuple[float, ...] = ()

    def step(self, index: int, strategy: str) -> StepRecord:
        return self.steps.get(step_key(index, strategy), StepRecord())

    # --- persistence -------------------------------------------------------------------------------

    def to_json(self) -> str:
        data = asdict(self)
        data["steps"] = {k: asdict(v) for k, v in self.steps.items()}
        data["version"] = _SCHEMA_VERSION
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> LadderState:
        """An empty/absent column is a fresh ladder; anything else must parse, or the caller hears why."""
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        version = data.pop("version", _SCHEMA_VERSION)
        if version != _SCHEMA_VERSION:
            raise ValueError(f"ladder state version {version} is not {_SCHEMA_VERSION}")
        incident = data.get("incident")
        if incident is not None:
            esc = incident.get("escalation")
            incident = IncidentState(
                **{
                    **incident,
                    "escalation": None if esc is None else Escalation(**{**esc, "channels": tuple(esc["channels"])}),
                    "failed_candidates": tuple(incident.get("failed_candidates", ())),
                }
            )
        return cls(
            incident=incident,
            steps={
                k: StepRecord(**{**v, "attempts": tuple(v.get("attempts", ()))})
                for k, v in data.get("steps", {}).items()
            },
            in_progress=_maybe(InProgress, data.get("in_progress")),
            fallback=_maybe(ActiveFallback, data.get("fallback")),
            resolved_pending=tuple(
                PendingResolved(**{**p, "channels": tuple(p["channels"])}) for p in data.get("resolved_pending", ())
            ),
            last_success_at=data.get("last_success_at"),
            healthy_since=data.get("healthy_since"),
            operator_requested_at=data.get("operator_requested_at"),
            last_incident_id=data.get("last_incident_id"),
            repeats=int(data.get("repeats", 0)),
            flap_opens=tuple(data.get("flap_opens", ())),
        )


def _maybe(kind: type, data: dict[str, Any] | None) -> Any:
    return None if data is None else kind(**data)


# --- reducers (pure: state in, new state out) ----------------------------------------------------------


def open_incident(state: LadderState, incident_id: int | str, trigger: str, now: float) -> LadderState:
    """Apply after the `incidents` row is inserted (decision `OpenIncident`); counts it as a repeat."""
    if state.incident is not None:
        raise ValueError(f"incident {state.incident.id} is still open")
    return replace(
        state,
        incident=IncidentState(
            id=incident_id, opened_at=now, trigger=trigger, repeat=state.repeats, flapping=trigger == "flapping"
        ),
        last_incident_id=incident_id,
        repeats=state.repeats + 1,
    )


def on_breaker_closed(state: LadderState, now: float) -> LadderState:
    """The incident ends (decision `CloseIncident`); an escalated one still owes its `resolved` message."""
    inc = state.incident
    if inc is None:
        return state
    pending = state.resolved_pending
    if inc.escalation is not None:
        pending = pending + (PendingResolved(inc.id, inc.escalation.index, inc.escalation.channels, now, inc.flapping),)
    # an incident that ended by itself is a flap; the flapping that ended must not count again
    opens = (
        () if inc.flapping else state.flap_opens if inc.healed else (state.flap_opens + (inc.opened_at,))[-_FLAP_KEEP:]
    )
    return replace(state, incident=None, resolved_pending=pending, flap_opens=opens)


def request_recovery(state: LadderState, now: float) -> LadderState:
    return replace(state, operator_requested_at=now)


def note_waiting(state: LadderState, waiting_on: str | None) -> LadderState:
    """Record on the incident which dependency it waits for (the `incidents.waiting_on` column)."""
    if state.incident is None or state.incident.waiting_on == waiting_on:
        return state
    return replace(state, incident=replace(state.incident, waiting_on=waiting_on))


def record_ack(state: LadderState, now: float) -> LadderState:
    """`healerd ack NAME`: no more reminders for this incident (the `resolved` message is still sent)."""
    if state.incident is None:
        return state
    return replace(state, incident=replace(state.incident, acked_at=now))


def record_started(
    state: LadderState, index: int, strategy: str, now: float, candidate: str | None = None
) -> LadderState:
    """Intent: persist with the `started` recovery event, before the action runs. Counts the attempt."""
    if state.in_progress is not None:
        raise ValueError(f"step {state.in_progress.index} ({state.in_progress.strategy}) is still in progress")
    steps = dict(state.steps)
    if strategy != FAILBACK:
        key = step_key(index, strategy)
        rec = steps.get(key, StepRecord())
        steps[key] = replace(rec, attempts=rec.attempts + (now,))
    incident = state.incident
    if incident is not None and strategy != FAILBACK:
        incident = replace(
            incident,
            actions=incident.actions + 1,
            first_action_at=incident.first_action_at if incident.first_action_at is not None else now,
        )
    return replace(
        state,
        steps=steps,
        in_progress=InProgress(index, strategy, now, candidate),
        operator_requested_at=None,
        incident=incident,
    )


def record_finished(
    state: LadderState,
    step: Any,
    outcome: Outcome,
    now: float,
    rng: random.Random,
    candidate: str | None = None,
) -> LadderState:
    """Apply the verified outcome of the step in progress; `step` is its config (None if reloaded away).

    A failure (or interruption) of a retry step sets the persisted backoff wait `next_at`. `candidate`
    names the fallback candidate that won when the actor chose it (`fastest`).
    """
    run = state.in_progress
    if run is None:
        raise ValueError("no step is in progress")
    candidate = candidate or run.candidate
    if run.strategy == FAILBACK:
        return _finish_failback(state, outcome, now)
    steps = dict(state.steps)
    key = step_key(run.index, run.strategy)
    rec = steps.get(key, StepRecord())
    keep = getattr(step, "attempts", _UNBOUNDED_KEEP)
    rec = replace(rec, attempts=rec.attempts[-keep:])
    new = replace(state, in_progress=None)
    if outcome is Outcome.SUCCEEDED:
        steps = {k: replace(v, failures=0, prev_delay=None, next_at=None) for k, v in steps.items()}
        steps[key] = replace(rec, failures=0, prev_delay=None, next_at=None)
        new = replace(new, steps=steps, last_success_at=now)
        if new.incident is not None:
            new = replace(new, incident=replace(new.incident, healed=True))
        incident_id = state.incident.id if state.incident is not None else state.last_incident_id
        if run.strategy == "fallback" and candidate is not None and incident_id is not None:
            new = replace(new, fallback=ActiveFallback(run.index, candidate, now, incident_id))
        return new
    backoff = getattr(step, "backoff", None)
    if backoff is not None and run.strategy == "retry":
        delay = next_delay(backoff, rec.failures, rec.prev_delay, rng)
        rec = replace(rec, failures=rec.failures + 1, prev_delay=delay, next_at=now + delay)
    else:
        rec = replace(rec, failures=rec.failures + 1)
    steps[key] = rec
    new = replace(new, steps=steps)
    if run.strategy == "fallback" and candidate is not None and new.incident is not None:
        failed = new.incident.failed_candidates
        if candidate not in failed:
            new = replace(new, incident=replace(new.incident, failed_candidates=failed + (candidate,)))
    return new


def _finish_failback(state: LadderState, outcome: Outcome, now: float) -> LadderState:
    fb = state.fallback
    if outcome is Outcome.SUCCEEDED or fb is None:
        return replace(state, in_progress=None, fallback=None)
    return replace(state, in_progress=None, fallback=replace(fb, failback_failed_at=now))


def record_escalation(
    state: LadderState, kind: str, index: int, channels: tuple[str, ...], now: float, incident_id: int | str | None
) -> LadderState:
    """Apply after the `escalations` rows are inserted; the delivery itself is the notifier's business."""
    if kind == "resolved":
        return replace(state, resolved_pending=tuple(p for p in state.resolved_pending if p.incident_id != incident_id))
    inc = state.incident
    if inc is None or inc.id != incident_id:
        return state
    if kind == "initial" or inc.escalation is None:
        esc = Escalation(index=index, channels=tuple(channels), first_at=now, last_at=now)
    elif kind == "reminder":
        esc = replace(inc.escalation, last_at=now, reminders=inc.escalation.reminders + 1)
    else:
        raise ValueError(f"unknown escalation kind {kind!r}")
    return replace(state, incident=replace(inc, escalation=esc))


def observe_health(
    state: LadderState,
    status: Status,
    breaker: BreakerState,
    now: float,
    budget_reset_after: float,
    repeats_reset_after: float = 600.0,
) -> LadderState:
    """Apply every check result: tracks `healthy_since` and resets the budgets after a long healthy spell.

    Healthy means the check passed *and* the breaker lets traffic through; the reset (unlike Monit's
    restart counters) forgets attempts and backoff once the component has been fine for
    `budget_reset_after`, so the next incident starts with a full ladder. The restart backoff's count
    of repeated incidents resets after `repeats_reset_after` healthy (Kubernetes: 10 min running).
    """
    healthy = status is Status.HEALTHY and breaker in (BreakerState.CLOSED, BreakerState.DISABLED)
    if not healthy:
        return state if state.healthy_since is None else replace(state, healthy_since=None)
    since = state.healthy_since if state.healthy_since is not None else now
    new = state if since == state.healthy_since else replace(state, healthy_since=since)
    if state.steps and now - since >= budget_reset_after and state.in_progress is None:
        new = replace(new, steps={})
    if new.repeats and now - since >= repeats_reset_after:
        new = replace(new, repeats=0)
    return new

"""The self-healer's choice for one component, as a pure function of what is known now.

`decide()` does no I/O and reads no clock: the same inputs give the same decision, so every decision
can be recorded with its reason and replayed by `healerd explain`. The service applies a decision,
records what happened through the reducers in `engine/ladder.py`, and asks again.

The order of the gates below is the policy (each is pinned by tests/engine/test_decide.py):

1. a step or failback in progress → Wait (never two actions at once for one component);
2. a closed, escalated incident still owes its `resolved` message → Escalate(resolved) (never
   suppressed); a maintenance window or silence → Wait until it ends (only an incident whose breaker
   closed may still close): no action, no escalation, no reminder;
3. breaker closed/disabled → close the open incident, else Failback once the primary has been healthy
   for `failback_after` (at once if the standby is sick) — the one action a healthy component gets —
   else Nothing;
   breaker forced open → Nothing: an operator took it out, healing it would fight them;
4. no incident yet → OpenIncident (the incident row exists before any action or escalation);
   flapping (`Flapping.flaps` incidents that ended by themselves within `within`) →
   OpenIncident("flapping"); a flapping incident
   stays open while the breaker passes until the component has been healthy for `quiet`;
5. a dependency (transitively) is sick → Wait, burning no budget and sending nothing (root cause first);
   a flapping incident escalates once at once; its steps stop after `Flapping.actions` actions;
6. holds that need no action: breaker half-open (its probes decide), latest check passing, an active
   healthy fallback — reminders of an escalation may still go out;
7. walk the ladder top to bottom (`when`, budget, preconditions, backoff) → RunStep | Escalate | Wait;
   a step about to run first waits out the restart backoff across incidents (the first action of a
   repeated incident, `policies/backoff.py: restart_delay`) and the `cooldown` floor after a success;
8. the global limit on concurrent recoveries holds back RunStep and Failback, never a notification.

An operator request (`ladder.operator_requested_at`, valid OPERATOR_REQUEST_TTL) opens an incident
even on a closed breaker and skips the holds of 3 and 6 and the backoff wait — never 1, 5, the
budgets or the global limit.

How the service applies a decision (each in one transaction with its row, intent before act):
OpenIncident → insert `incidents`, `open_incident()`; CloseIncident → close it, `on_breaker_closed()`;
RunStep / Failback → insert the `started` event with `record_started()`, act and verify, then
`record_finished()`; Escalate → insert `escalations`, `record_escalation()`; Wait with `waiting_on` →
`note_waiting()`, then decide again at `until` or on the next event. Every check result goes through
`observe_health()`; on daemon start a persisted `in_progress` is finished as `Outcome.INTERRUPTED`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from daemon.config.models import EscalateStep, FallbackStep, RestoreStep
from daemon.engine.decide_between import (
    dependency_recovered as _dependency_recovered,
)
from daemon.engine.decide_between import (
    dur as _dur,
)
from daemon.engine.decide_between import (
    flap_count as _flap_count,
)
from daemon.engine.decide_between import (
    flapping_passing as _flapping_passing,
)
from daemon.engine.decide_between import (
    recheck_after_dependency as _recheck_after_dependency,
)
from daemon.engine.decide_between import (
    restart_wait as _restart_wait,
)
from daemon.engine.decision import (
    BreakerView,
    CheckpointView,
    CloseIncident,
    ComponentView,
    Decision,
    DepView,
    Escalate,
    Failback,
    GlobalBudget,
    Nothing,
    OpenIncident,
    RunStep,
    Wait,
    nothing_to_heal,
)
from daemon.engine.ladder import IncidentState, LadderState
from daemon.engine.select import CandidateStats, select
from daemon.timefmt import span as _span
from daemon.types import BreakerState, Status

#: an operator's "heal it now" that could not start a step for this long is forgotten.
OPERATOR_REQUEST_TTL = 600.0
_DEFAULT_FAILBACK_AFTER = FallbackStep.model_fields["failback_after"].default.total_seconds()
_PASSING = (BreakerState.CLOSED, BreakerState.DISABLED)


@dataclass(frozen=True)
class _Facts:
    """decide()'s inputs in one value, so the gates below take one argument instead of nine."""

    component: ComponentView
    breaker: BreakerView
    ladder: LadderState
    deps: Mapping[str, DepView]
    budget: GlobalBudget
    health: Mapping[str, Status]
    checkpoints: Mapping[str, CheckpointView]
    stats: Mapping[str, CandidateStats]
    now: float
    #: an operator's request that is still fresh.
    requested: bool


def decide(
    component: ComponentView,
    breaker: BreakerView,
    ladder: LadderState,
    dependencies: Mapping[str, DepView],
    budget: GlobalBudget,
    health: Mapping[str, Status],
    checkpoints: Mapping[str, CheckpointView],
    now: float,
    stats: Mapping[str, CandidateStats] | None = None,
) -> Decision:
    requested = ladder.operator_requested_at is not None and now - ladder.operator_requested_at < OPERATOR_REQUEST_TTL
    facts = _Facts(component, breaker, ladder, dependencies, budget, health, checkpoints, stats or {}, now, requested)
    run = ladder.in_progress
    if run is not None:
        what = f"{run.strategy} (step {run.index + 1})" + (f" → {run.candidate}" if run.candidate else "")
        return Wait(None, f"{what} in progress since {_span(now - run.started_at)} ago")
    if ladder.resolved_pending:
        p = ladder.resolved_pending[0]
        what = f"flapping ended: incident {p.incident_id} closed" if p.flapping else f"incident {p.incident_id} closed"
        return Escalate(p.index, p.channels, "resolved", f"{what}; resolved → {', '.join(p.channels)}", p.incident_id)

    inc = ladder.incident
    state = breaker.state
    if component.suppressed is not None:
        if state in _PASSING and inc is not None:
            return CloseIncident(inc.id, f"breaker {state.value}: incident {inc.id} closes")
        return Wait(
            component.suppressed_until, f"{component.suppressed}: checks run and are recorded; no action, no escalation"
        )
    if inc is not None and inc.flapping and state in _PASSING:
        return _flapping_passing(facts, inc)
    if not requested:
        if state in _PASSING:
            if inc is not None:
                return CloseIncident(inc.id, f"breaker {state.value}: incident {inc.id} closes")
            if ladder.fallback is not None:
                return _failback(facts)
            return nothing_to_heal(state)
        if state is BreakerState.FORCED_OPEN:
            return Nothing("breaker forced open by an operator: healerd leaves it alone")
    if inc is None:
        flaps = _flap_count(facts)
        if not requested and flaps >= component.flapping.flaps:
            return OpenIncident(
                "flapping",
                (
                    f"breaker {state.value}: flapping ({flaps} incident(s) ended by themselves within "
                    f"{_dur(component.flapping.within.total_seconds())}): "
                    f"one flapping incident opens and stays open until the component is healthy for "
                    f"{_dur(component.flapping.quiet.total_seconds())}"
                ),
            )
        trigger: Literal["operator", "breaker"] = "operator" if requested else "breaker"
        why = "an operator asked for a recovery" if requested else f"breaker {state.value}"
        return OpenIncident(trigger, f"{why}: a new incident opens")

    waiting = _waiting_on(component, dependencies)
    if waiting is not None:
        root, reason = waiting
        return Wait(None, reason, waiting_on=root)

    if inc.flapping and inc.escalation is None:
        first = next(((i, s) for i, s in enumerate(component.recovery) if isinstance(s, EscalateStep)), None)
        if first is not None:
            return Escalate(
                first[0],
                tuple(first[1].notify),
                "initial",
                f"flapping since {_span(now - inc.opened_at)} ago: one escalation for the whole flapping; "
                f"escalate → {', '.join(first[1].notify)}",
                inc.id,
            )

    recheck = _recheck_after_dependency(facts, inc)
    if recheck is not None:
        return _with_reminder(component, inc, Wait(None, recheck), now)

    hold, hold_until = (None, None) if requested else _hold(facts)
    if hold is not None:
        return _with_reminder(component, inc, Wait(hold_until, hold), now)

    plan = _walk(facts, inc)
    if isinstance(plan, RunStep) and budget.running >= budget.max_concurrent:
        why = f"global limit: {budget.running}/{budget.max_concurrent} recoveries running; next: {plan.reason}"
        return _with_reminder(component, inc, Wait(None, why), now)
    if isinstance(plan, (RunStep, Escalate)):
        return plan
    return _with_reminder(component, inc, plan, now)


# --- gates -------------------------------------------------------------------------------------------


def _waiting_on(component: ComponentView, deps: Mapping[str, DepView]) -> tuple[str, str] | None:
    """The root cause among the sick transitive dependencies: one with no sick dependency of its own."""
    closure = _closure(component.depends_on, deps)
    sick = sorted(d for d in closure if deps[d].sick)
    if not sick:
        return None
    roots = [d for d in sick if not any(deps[e].sick for e in _closure(deps[d].depends_on, deps) if e != d)]
    roots = roots or sick  # a cycle of sick components (the loader refuses cycles; stay total anyway)
    others = [d for d in sick if d not in roots]
    reason = f"waiting on {', '.join(roots)}" + (f" ({', '.join(others)} also sick)" if others else "")
    return roots[0], reason + ": the dependency is healed first; no budget used, no escalation"


def _closure(start: tuple[str, ...], deps: Mapping[str, DepView]) -> set[str]:
    """Every known component reachable through depends_on; unknown names are skipped (nothing to heal)."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        name = stack.pop()
        if name in seen or name not in deps:
            continue
        seen.add(name)
        stack.extend(deps[name].depends_on)
    return seen


def _hold(facts: _Facts) -> tuple[str | None, float | None]:
    component, ladder, now = facts.component, facts.ladder, facts.now
    if facts.breaker.state is BreakerState.HALF_OPEN:
        return "breaker half-open: its probes decide", None
    if not component.status.is_failure:
        return f"latest check {component.status.value}: waiting for the breaker to close", None
    fb = ladder.fallback
    if fb is not None and _candidate_ok(fb.candidate, facts.health, facts.deps):
        after = _failback_after(component, fb.index)
        return (
            f"fallback → {fb.candidate} active since {_span(now - fb.since)} ago; "
            f"fails back once the primary is healthy for {_dur(after)}"
        ), None
    return None, None


def _failback(facts: _Facts) -> Decision:
    component, ladder, budget, now = facts.component, facts.ladder, facts.budget, facts.now
    fb = ladder.fallback
    assert fb is not None
    after = _failback_after(component, fb.index)
    waiting = _waiting_on(component, facts.deps)
    if waiting is not None:
        return Wait(None, f"failback from {fb.candidate} held: {waiting[1]}", waiting_on=waiting[0])
    if component.status is not Status.HEALTHY or ladder.healthy_since is None:
        return Wait(None, f"fallback → {fb.candidate} active; primary not healthy yet")
    standby_sick = not _candidate_ok(fb.candidate, facts.health, facts.deps)
    due = ladder.healthy_since + after
    if fb.failback_failed_at is not None:
        due = max(due, fb.failback_failed_at + after)
    elif standby_sick:
        due = ladder.healthy_since
    if now < due:
        return Wait(
            due,
            f"fallback → {fb.candidate} active; primary healthy {_span(now - ladder.healthy_since)}, fails back after {_dur(after)}",
        )
    why = (
        f"{fb.candidate} is sick and the primary is healthy"
        if standby_sick
        else f"primary healthy for {_span(now - ladder.healthy_since)} (≥ {_dur(after)})"
    )
    if budget.running >= budget.max_concurrent:
        return Wait(
            None, f"global limit: {budget.running}/{budget.max_concurrent} recoveries running; next: failback ({why})"
        )
    return Failback(fb.index, fb.candidate, f"failback from {fb.candidate}: {why}", fb.incident_id)


def _with_reminder(component: ComponentView, inc: IncidentState, then: Wait | Nothing, now: float) -> Decision:
    """Holds and waits still let a due reminder out: a stuck incident keeps being told about."""
    esc = inc.escalation
    repeat = _repeat_every(component, esc.index) if esc is not None else None
    if esc is None or repeat is None or inc.acked_at is not None:
        return then
    due = esc.last_at + repeat
    if now >= due:
        return Escalate(
            esc.index,
            esc.channels,
            "reminder",
            f"{then.reason}; reminder {esc.reminders + 1} → {', '.join(esc.channels)} (every {_dur(repeat)}, not acked)",
            inc.id,
        )
    until = getattr(then, "until", None)
    return Wait(due if until is None else min(until, due), then.reason)


# --- the ladder walk -------------------------------------------------------------------------------------


def _walk(facts: _Facts, inc: IncidentState) -> RunStep | Escalate | Wait | Nothing:
    component, ladder, now = facts.component, facts.ladder, facts.now
    notes: list[str] = []
    refill: list[float] = []
    error = component.error_class
    flap_spent = inc.flapping and inc.actions >= component.flapping.actions
    for index, step in enumerate(component.recovery):
        name = step.strategy
        if flap_spent and not isinstance(step, EscalateStep):
            notes.append(f"{name}: flapping, {inc.actions}/{component.flapping.actions} action(s) used")
            continue
        if step.when is not None and error not in step.when.errors:
            notes.append(f"{name}: only for {', '.join(step.when.errors)} (error is {error or 'none'})")
            continue
        if isinstance(step, EscalateStep):
            if inc.escalation is not None:
                notes.append(
                    f"escalated {_span(now - inc.escalation.first_at)} ago → {', '.join(inc.escalation.channels)}"
                )
                continue
            notes.append(f"escalate → {', '.join(step.notify)}")
            return Escalate(index, tuple(step.notify), "initial", "; ".join(notes), inc.id)
        rec = ladder.step(index, name)
        within = step.within.total_seconds()
        used = sorted(a for a in rec.attempts if a > now - within)
        if len(used) >= step.attempts:
            notes.append(f"{name} {len(used)}/{step.attempts} used in {_dur(within)}")
            refill.append(used[-step.attempts] + within)
            continue
        candidates: tuple[str, ...] = ()
        candidate, checkpoint_id = None, None
        if isinstance(step, RestoreStep):
            cp = facts.checkpoints.get(step.checkpoint)
            if cp is None or not cp.verified:
                notes.append(f"restore: {'no checkpoint' if cp is None else f'checkpoint {cp.name} not verified'}")
                continue
            checkpoint_id = cp.id
            what = f"restore {cp.name} (taken {_span(now - cp.taken_at)} ago)"
        elif isinstance(step, FallbackStep):
            active = ladder.fallback.candidate if ladder.fallback is not None else None
            seed = f"{component.name}|{inc.id}|{index}|{len(used)}|{len(inc.failed_candidates)}"
            pick = select(
                step.select,
                step.candidates,
                component.name,
                facts.health,
                {n: v.breaker for n, v in facts.deps.items()},
                inc.failed_candidates,
                facts.stats,
                seed,
                exclude=(active,) if active else (),
            )
            if not pick.candidates:
                notes.append(f"fallback: {pick.note}")
                continue
            candidate, candidates, what = pick.candidate, pick.candidates, f"fallback → {pick.note}"
        else:
            what = f"{name} → attempt {len(used) + 1}/{step.attempts} in {_dur(within)}"
        woken = _dependency_recovered(facts, inc)
        if rec.next_at is not None and now < rec.next_at and not facts.requested:
            if woken is None:
                notes.append(
                    f"{name} {len(used)}/{step.attempts} used; next attempt in {_span(rec.next_at - now)} (backoff)"
                )
                return Wait(rec.next_at, "; ".join(notes))
            notes.append(f"backoff of {_span(rec.next_at - now)} cut: {woken} recovered")
        held = None if facts.requested or woken is not None else _restart_wait(facts, inc, step)
        if held is not None:
            notes.append(f"next: {what}; {held[1]}")
            return Wait(held[0], "; ".join(notes))
        notes.append(what + (" (operator request)" if facts.requested else ""))
        return RunStep(index, name, candidate, "; ".join(notes), inc.id, len(used) + 1, candidates, checkpoint_id)
    if not component.recovery:
        notes.append("no recovery ladder configured")
    elif not any(isinstance(s, EscalateStep) for s in component.recovery):
        notes.append("every step spent or inapplicable; no escalate step")
    reason = "; ".join(notes)
    if refill:
        return Wait(min(refill), f"{reason}; a budget frees up in {_span(min(refill) - now)}")
    return Nothing(reason)


# --- helpers -------------------------------------------------------------------------------------------


def _candidate_ok(name: str, health: Mapping[str, Status], deps: Mapping[str, DepView]) -> bool:
    view = deps.get(name)
    return health.get(name, Status.UNKNOWN) is Status.HEALTHY and (view is None or view.breaker in _PASSING)


def _failback_after(component: ComponentView, index: int) -> float:
    step = component.recovery[index] if index < len(component.recovery) else None
    return step.failback_after.total_seconds() if isinstance(step, FallbackStep) else _DEFAULT_FAILBACK_AFTER


def _repeat_every(component: ComponentView, index: int) -> float | None:
    """The escalating step's reminder spacing; if a reload moved it, the ladder's first escalate step's."""
    steps = component.recovery
    at_index = steps[index] if index < len(steps) else None
    step = (
        at_index
        if isinstance(at_index, EscalateStep)
        else next((s for s in steps if isinstance(s, EscalateStep)), None)
    )
    if step is None or step.repeat_every is None:
        return None
    return step.repeat_every.total_seconds()

"""Replay: recorded check results, in time order, through another policy set on a simulated clock.

Nothing here re-implements the daemon: each result feeds the component's `CircuitBreaker` (the
breaker's clock is the simulated one), every result folds into the ladder through `observe_health`,
and each healer pass is `decide()` applied with `engine/heal_apply.py` — the very functions the daemon's
healer calls around its database writes. Recorded and replayed decisions then differ only where the
policy differs, and where the world would have: an action's outcome comes from `replay_outcomes.py`
(recorded when the history ran the same action then, estimated and labelled otherwise), and an action
estimated to heal turns the rest of that recorded outage into healthy results (also labelled).

Timers stand in for the daemon's clock-driven work: the breaker's open deadline (the monitor's tick),
a decision's `until` (the healer's next pass) and an action's end (its verification). Memory is bounded
by components and incidents, never by the number of results, so a week of a large fleet streams.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from daemon.config.models import EscalateStep, HealerdConfig
from daemon.engine.breaker import CircuitBreaker
from daemon.engine.decide import decide
from daemon.engine.decision import (
    BreakerView,
    CheckpointView,
    CloseIncident,
    ComponentView,
    DepView,
    Escalate,
    Failback,
    GlobalBudget,
    OpenIncident,
    RunStep,
)
from daemon.engine.heal_apply import applied, decision_columns, decision_key, heals_breaker, is_quiet, is_recorded
from daemon.engine.ladder import LadderState, Outcome, observe_health, record_ack, record_finished
from daemon.engine.replay_outcomes import Guess, Outcomes
from daemon.types import BreakerState, Status

_STATUS = {s.value: s for s in Status}
#: decide/apply rounds per pass: OpenIncident → RunStep needs two; a loop past this is a bug, not a policy.
_MAX_ROUNDS = 8


class SimClock:
    """The breakers' clock: one timeline for monotonic and wall, moved by the replay only."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.t


@dataclass
class SimAction:
    component: str
    incident: int | None
    strategy: str
    step: int
    attempt: int
    started_at: float
    finished_at: float
    succeeded: bool
    basis: str
    rule: str
    candidate: str | None = None
    failback: bool = False


@dataclass
class SimIncident:
    component: str
    id: int
    opened_at: float
    trigger: str
    closed_at: float | None = None
    actions: list[SimAction] = field(default_factory=list)
    #: (ts, kind, channels) of every escalation message (initial, reminder, resolved).
    escalations: list[tuple[float, str, tuple[str, ...]]] = field(default_factory=list)
    breaker_opened_at: float | None = None


@dataclass
class _Comp:
    name: str
    breaker: CircuitBreaker
    ladder: LadderState = field(default_factory=LadderState)
    status: Status = Status.UNKNOWN
    error_class: str | None = None
    checked_at: float | None = None
    maintenance: bool = False
    last_key: tuple | None = None
    #: the step being run: (decision, guess, event number)
    running: tuple | None = None
    wake_at: float | None = None
    #: an estimated heal: the rest of the recorded outage is replayed as healthy results.
    healed: bool = False
    last_open_at: float | None = None


@dataclass
class ReplayResult:
    decisions: dict[str, list[dict]]
    incidents: dict[str, list[SimIncident]]
    transitions: dict[str, list[dict]]
    #: results replayed as healthy because an estimated action healed the outage (per component).
    synthetic: dict[str, int]
    results: int
    start: float | None
    end: float | None


class Replay:
    def __init__(
        self,
        config: HealerdConfig,
        outcomes: Outcomes | None,
        *,
        checkpoints: Iterable[CheckpointView] = (),
        acks: dict[str, list[float]] | None = None,
        seed: int = 0,
    ) -> None:
        """outcomes None: judge each action by the results that follow it, like the daemon's verifier (a
        passing check after its start heals it, none within `verify_within` fails it) — shadow mode."""
        self.config = config
        self.settings = config.settings.daemon
        self.outcomes = outcomes
        self.clock = SimClock()
        self.rng = random.Random(seed)
        self.comps = {n: _Comp(n, CircuitBreaker(c.breaker, self.clock)) for n, c in config.components.items()}
        self.dependents = {n: config.dependents(n) for n in config.components}
        self._checkpoints = sorted(checkpoints, key=lambda c: c.taken_at)
        self._acks = {n: sorted(v) for n, v in (acks or {}).items()}
        self._timers: list[tuple[float, int, str, str]] = []
        self._seq = 0
        self._running = 0
        self._next_incident = 0
        #: decide()'s views of every component, rebuilt only after a status or breaker state changed.
        self._depends = {n: tuple(c.depends_on) for n, c in config.components.items()}
        self._deps: dict[str, DepView] = {n: self._dep(c) for n, c in self.comps.items()}
        self._healths: dict[str, Status] = {n: c.status for n, c in self.comps.items()}
        self.decisions: dict[str, list[dict]] = {n: [] for n in self.comps}
        self.incidents: dict[str, list[SimIncident]] = {n: [] for n in self.comps}
        self.transitions: dict[str, list[dict]] = {n: [] for n in self.comps}
        self.synthetic: dict[str, int] = dict.fromkeys(self.comps, 0)
        self.results = 0
        self.start: float | None = None
        #: decide()'s inputs that are frozen values: one per running count, one per component and instant
        self._budgets: dict[int, GlobalBudget] = {}
        self._views: dict[str, tuple[tuple, ComponentView]] = {}
        self._reset_after = self.settings.budget_reset_after.total_seconds()
        self._repeats_reset = self.settings.restart_backoff_reset.total_seconds()

    # --- driving -------------------------------------------------------------------------------------

    def run(self, rows: Iterable[tuple], until: float | None = None) -> ReplayResult:
        """rows: (component, ts, status, error_class, maintenance) in time order."""
        comps, timers = self.comps, self._timers
        for name, ts, status, error_class, maintenance in rows:
            comp = comps.get(name)
            if comp is None:
                continue
            if self.start is None:
                self.start = ts
                self.clock.t = ts
            while timers and timers[0][0] <= ts:
                self._fire(*heapq.heappop(timers))
            self.results += 1
            self._result(comp, ts, _STATUS[status], error_class, bool(maintenance))
        end = until if until is not None else self.clock.t
        self.advance(end)
        self.clock.t = max(self.clock.t, end)
        return self.result()

    def feed(self, name: str, ts: float, status: str, error_class: str | None, maintenance: bool = False) -> None:
        """One live result (shadow mode): timers due before it fire first."""
        comp = self.comps.get(name)
        if comp is None:
            return
        if self.start is None:
            self.start = ts
        self.advance(ts)
        self.clock.t = max(self.clock.t, ts)
        self.results += 1
        self._result(comp, ts, _STATUS[status], error_class, bool(maintenance))

    def advance(self, until: float) -> None:
        """Fire every timer due by `until` (deadlines, action ends) in time order."""
        timers = self._timers
        while timers and timers[0][0] <= until:
            self._fire(*heapq.heappop(timers))

    def drain(self, keep_closed: int = 5) -> dict[str, list[dict]]:
        """The decisions recorded since the last drain; closed incidents beyond `keep_closed` are forgotten
        (a long-running shadow keeps bounded memory)."""
        out = {n: d for n, d in self.decisions.items() if d}
        for name in out:
            self.decisions[name] = []
        for name, incidents in self.incidents.items():
            closed = [i for i in incidents if i.closed_at is not None]
            if len(closed) > keep_closed:
                drop = {id(i) for i in closed[:-keep_closed]}
                self.incidents[name] = [i for i in incidents if id(i) not in drop]
        return out

    def result(self) -> ReplayResult:
        end = self.clock.t
        return ReplayResult(
            self.decisions,
            self.incidents,
            self.transitions,
            self.synthetic,
            self.results,
            self.start,
            end if self.start is not None else None,
        )

    def _schedule(self, at: float, name: str, kind: str) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (at, self._seq, name, kind))

    def _fire(self, at: float, _seq: int, name: str, kind: str) -> None:
        comp = self.comps[name]
        self.clock.t = max(self.clock.t, at)
        if kind == "finish":
            self._finish(comp, at)
        elif kind == "tick":
            self._transitions(comp, comp.breaker.tick(), at)
            self._pass(comp, at)
        elif kind == "wake" and comp.wake_at is not None and comp.wake_at <= at:
            comp.wake_at = None
            self._pass(comp, at)

    # --- one result (the monitor's observe + the healer's fold) ----------------------------------------

    def _result(self, comp: _Comp, ts: float, status: Status, error_class: str | None, maintenance: bool) -> None:
        self.clock.t = ts
        if comp.running is not None and self.outcomes is None and not status.is_failure and ts > comp.running[3]:
            self._finish(comp, ts, True)  # the shadow's verification: a passing check after the start
        if comp.healed:
            if status.is_failure:
                status, error_class = Status.HEALTHY, None
                self.synthetic[comp.name] += 1
            else:
                comp.healed = False  # the recorded outage is over: the world is recorded again
        changed = status is not comp.status
        comp.status, comp.error_class, comp.checked_at, comp.maintenance = status, error_class, ts, maintenance
        transitions = comp.breaker.feed(status, error_class)
        comp.ladder = observe_health(
            comp.ladder, status, comp.breaker.state, ts, self._reset_after, self._repeats_reset
        )
        if changed or transitions:
            self._touch(comp)
        if transitions:
            self._transitions(comp, transitions, ts)
        self._pass(comp, ts)
        if transitions:
            for other in self.dependents[comp.name]:
                self._pass(self.comps[other], ts)

    def _transitions(self, comp: _Comp, transitions, ts: float) -> None:
        if not transitions:
            return
        self._touch(comp)
        for t in transitions:
            self.transitions[comp.name].append(
                {"ts": t.at_wall, "from": t.from_state.value, "to": t.to_state.value, "reason": t.reason}
            )
            if t.to_state is BreakerState.OPEN:
                comp.last_open_at = t.at_wall
                if t.open_until_wall is not None:
                    self._schedule(t.open_until_wall, comp.name, "tick")

    # --- one healer pass -------------------------------------------------------------------------------

    def _pass(self, comp: _Comp, now: float) -> None:
        self._apply_acks(comp, now)
        for _ in range(_MAX_ROUNDS):
            state = comp.ladder
            if is_quiet(state, comp.breaker.state, comp.last_key):
                return
            health = self._health()
            budget = self._budgets.get(self._running)
            if budget is None:
                budget = self._budgets[self._running] = GlobalBudget.from_settings(self._running, self.settings)
            d = decide(
                self._view(comp, now),
                BreakerView(comp.breaker.state),
                state,
                self._dep_views(),
                budget,
                health,
                self._checkpoints_at(now),
                now,
                {},
            )
            incident_id = self._incident_of(state, d)
            new = applied(state, d, now, incident_id)
            if is_recorded(state, d, comp.last_key, incident_id):
                self._record(comp, d, now, incident_id)
            if new is None:
                until = getattr(d, "until", None)
                if (
                    until is not None
                    and until > now
                    and (comp.wake_at is None or until < comp.wake_at or comp.wake_at <= now)
                ):
                    comp.wake_at = until
                    self._schedule(until, comp.name, "wake")
                return
            comp.ladder = new
            self._side_effects(comp, d, now, incident_id)
            if isinstance(d, (RunStep, Failback)):
                return

    def _incident_of(self, state: LadderState, d) -> int | str | None:
        if isinstance(d, OpenIncident):
            return self._next_incident + 1
        if isinstance(d, (CloseIncident, Escalate, RunStep, Failback)) and d.incident_id is not None:
            return d.incident_id
        return state.incident.id if state.incident is not None else None

    def _record(self, comp: _Comp, d, now: float, incident_id) -> None:
        comp.last_key = decision_key(d, incident_id)
        self.decisions[comp.name].append(
            {"ts": now, "incident": incident_id, "reason": d.reason, **decision_columns(d)}
        )

    def _side_effects(self, comp: _Comp, d, now: float, incident_id) -> None:
        incidents = self.incidents[comp.name]
        if isinstance(d, OpenIncident):
            self._next_incident = incident_id
            incidents.append(SimIncident(comp.name, incident_id, now, d.trigger, breaker_opened_at=comp.last_open_at))
        elif isinstance(d, CloseIncident):
            inc = self._incident(comp.name, d.incident_id)
            if inc is not None:
                inc.closed_at = now
        elif isinstance(d, Escalate):
            inc = self._incident(comp.name, d.incident_id)
            if inc is not None:
                inc.escalations.append((now, d.kind, tuple(d.channels)))
        elif isinstance(d, (RunStep, Failback)):
            self._start(comp, d, now)

    def _incident(self, name: str, incident_id) -> SimIncident | None:
        for inc in reversed(self.incidents[name]):
            if inc.id == incident_id:
                return inc
        return None

    # --- actions -------------------------------------------------------------------------------------

    def _start(self, comp: _Comp, d, now: float) -> None:
        component = self.config.components[comp.name]
        step = component.recovery[d.index] if d.index < len(component.recovery) else None
        failback = isinstance(d, Failback)
        strategy = "fallback" if failback else d.strategy
        verify = step.verify_within.total_seconds() if step is not None and not isinstance(step, EscalateStep) else 30.0
        candidate = d.candidate or (d.candidates[0] if not failback and d.candidates else None)
        if self.outcomes is None:
            guess = Guess(False, verify, "observed", "verified by the results that followed (shadow)", candidate)
        else:
            guess = self.outcomes.guess(
                comp.name, strategy, d.index, comp.error_class, now, verify, failback, candidate
            )
        # the history's own verdict came at a recorded instant (its verifying check is in the record)
        recorded_end = guess.matched.finished_at if guess.matched is not None else None
        ends = recorded_end if recorded_end is not None else now + guess.duration
        action = SimAction(
            comp.name,
            d.incident_id,
            strategy,
            d.index,
            1 if failback else d.attempt,
            now,
            max(now, ends),
            guess.succeeded,
            guess.basis,
            guess.rule,
            guess.candidate,
            failback,
        )
        inc = self._incident(comp.name, d.incident_id)
        if inc is not None:
            inc.actions.append(action)
        comp.running = (d, guess, step, now, action)
        self._running += 1
        self._schedule(action.finished_at, comp.name, "finish")

    def _finish(self, comp: _Comp, at: float, observed: bool | None = None) -> None:
        if comp.running is None or (observed is None and at < comp.running[4].finished_at):
            return  # already finished (a shadow's action verified early) or a stale timer
        d, guess, step, _started, action = comp.running
        comp.running = None
        self._running -= 1
        if observed is not None:
            guess = Guess(observed, at - action.started_at, guess.basis, guess.rule, guess.candidate)
            action.succeeded, action.finished_at = observed, at
        outcome = Outcome.SUCCEEDED if guess.succeeded else Outcome.FAILED
        if comp.ladder.in_progress is not None:
            config_step = None if isinstance(d, Failback) else step
            comp.ladder = record_finished(comp.ladder, config_step, outcome, at, self.rng, candidate=guess.candidate)
        if heals_breaker(d, guess.succeeded):
            self._transitions(
                comp,
                comp.breaker.recovered(
                    f"verified recovery: {d.strategy} (step {d.index + 1}) of incident {d.incident_id}; "
                    "half-open probes decide"
                ),
                at,
            )
            if guess.basis in ("estimated", "assumed") and comp.status.is_failure:
                comp.healed = True
        self._pass(comp, at)

    # --- decide()'s inputs -----------------------------------------------------------------------------

    def _view(self, comp: _Comp, now: float) -> ComponentView:
        # frozen, and a pure function of these four: the passes of one instant share it
        key = (comp.status, comp.error_class, comp.checked_at, comp.maintenance)
        cached = self._views.get(comp.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        view = ComponentView.from_config(
            self.config.components[comp.name],
            comp.status,
            comp.error_class,
            self.settings,
            checked_at=comp.checked_at,
            suppressed="maintenance or silence (recorded)" if comp.maintenance else None,
        )
        self._views[comp.name] = (key, view)
        return view

    def _dep(self, comp: _Comp) -> DepView:
        return DepView(comp.name, comp.status, comp.breaker.state, self._depends[comp.name], comp.breaker.since)

    def _touch(self, comp: _Comp) -> None:
        """A status or breaker change: decide()'s views of the others follow (one entry, not all N)."""
        self._deps[comp.name] = self._dep(comp)
        self._healths[comp.name] = comp.status

    def _dep_views(self) -> dict[str, DepView]:
        return self._deps

    def _health(self) -> dict[str, Status]:
        return self._healths

    def _checkpoints_at(self, now: float) -> dict[str, CheckpointView]:
        out: dict[str, CheckpointView] = {}
        for cp in self._checkpoints:
            if cp.taken_at > now:
                break
            out[cp.name] = cp
        return out

    def _apply_acks(self, comp: _Comp, now: float) -> None:
        acks = self._acks.get(comp.name)
        while acks and acks[0] <= now:
            comp.ladder = record_ack(comp.ladder, acks.pop(0))


def closure(config: HealerdConfig, names: Iterable[str]) -> list[str]:
    """The named components and what their decisions read: transitive dependencies, fallback candidates."""
    out: list[str] = []
    stack = list(names)
    while stack:
        name = stack.pop()
        component = config.components.get(name)
        if name in out or component is None:
            continue
        out.append(name)
        stack.extend(component.depends_on)
        stack.extend(c for step in component.recovery for c in getattr(step, "candidates", ()))
    return out

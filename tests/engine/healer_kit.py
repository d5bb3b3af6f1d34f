"""Builders for the healer's decision tests, and a simulator that drives decide() through the reducers.

The simulator plays the service's part exactly as docs say it must: apply each decision through the
matching reducer, persist (JSON round trip) at every step, and finish a crashed step as interrupted
after a "restart". It logs every action so properties can be checked over the whole history.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daemon.config.models import EscalateStep, FallbackStep, RestoreStep, RetryStep
from daemon.engine.decide import decide
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
)
from daemon.engine.ladder import (
    FAILBACK,
    LadderState,
    Outcome,
    on_breaker_closed,
    open_incident,
    record_escalation,
    record_finished,
    record_started,
)
from daemon.types import BreakerState, Status

T0 = 1_800_000_000.0


def retry(
    attempts: int = 3,
    within: str = "10m",
    jitter: str = "none",
    initial: str = "1s",
    max: str = "30s",
    when: list[str] | None = None,
) -> RetryStep:
    data: dict[str, Any] = {
        "strategy": "retry",
        "action": {"run": ["restart", "{component}"]},
        "attempts": attempts,
        "within": within,
        "backoff": {"initial": initial, "max": max, "jitter": jitter},
    }
    if when:
        data["when"] = {"errors": when}
    return RetryStep.model_validate(data)


def restore(checkpoint: str = "cp", attempts: int = 1, within: str = "1h") -> RestoreStep:
    return RestoreStep.model_validate(
        {"strategy": "restore", "checkpoint": checkpoint, "attempts": attempts, "within": within}
    )


def fallback(
    *candidates: str, select: str = "sequential", attempts: int = 1, within: str = "1h", failback_after: str = "2m"
) -> FallbackStep:
    return FallbackStep.model_validate(
        {
            "strategy": "fallback",
            "candidates": list(candidates or ("app-standby",)),
            "select": select,
            "attempts": attempts,
            "within": within,
            "activate": {"run": ["activate", "{candidate}"]},
            "deactivate": {"run": ["deactivate", "{candidate}"]},
            "failback_after": failback_after,
        }
    )


def escalate(*notify: str, repeat_every: str | None = "1h", when: list[str] | None = None) -> EscalateStep:
    data: dict[str, Any] = {"strategy": "escalate", "notify": list(notify or ("ops",)), "repeat_every": repeat_every}
    if when:
        data["when"] = {"errors": when}
    return EscalateStep.model_validate(data)


def comp(
    *steps: Any,
    name: str = "app",
    status: Status = Status.UNHEALTHY,
    error: str | None = "refused",
    depends_on: tuple[str, ...] = (),
    cooldown: float = 60.0,
) -> ComponentView:
    return ComponentView(name, status, error, tuple(steps), tuple(depends_on), cooldown)


def dep(
    name: str,
    status: Status = Status.HEALTHY,
    breaker: BreakerState = BreakerState.CLOSED,
    depends_on: tuple[str, ...] = (),
) -> DepView:
    return DepView(name, status, breaker, tuple(depends_on))


def checkpoint(name: str = "cp", verified: bool = True, taken_at: float = T0 - 600, id: int = 7) -> CheckpointView:
    return CheckpointView(name, id, taken_at, verified)


def opened(ladder: LadderState | None = None, incident_id: int = 1, at: float = T0 - 5) -> LadderState:
    return open_incident(ladder or LadderState(), incident_id, "breaker", at)


def spend(
    ladder: LadderState, component: ComponentView, index: int, *starts: float, outcome: Outcome = Outcome.FAILED
) -> LadderState:
    """Record finished attempts of step `index` starting at `starts` (each finishing a second later)."""
    step = component.recovery[index]
    for at in starts:
        ladder = record_started(ladder, index, step.strategy, at)
        ladder = record_finished(ladder, step, outcome, at + 1, random.Random(0))
    return ladder


def call(
    component: ComponentView,
    ladder: LadderState,
    *,
    breaker: BreakerState = BreakerState.OPEN,
    deps: Mapping[str, DepView] | None = None,
    budget: GlobalBudget | None = None,
    health: Mapping[str, Status] | None = None,
    checkpoints: Mapping[str, CheckpointView] | None = None,
    now: float = T0,
    stats: Any = None,
) -> Decision:
    return decide(
        component,
        BreakerView(breaker),
        ladder,
        deps or {},
        budget or GlobalBudget(0, 4),
        health or {},
        checkpoints or {},
        now,
        stats,
    )


def is_action(decision: Decision) -> bool:
    """What the properties call an action: anything that touches the component or pages a human."""
    return isinstance(decision, (RunStep, Failback)) or (isinstance(decision, Escalate) and decision.kind != "resolved")


# --- simulator -------------------------------------------------------------------------------------------


@dataclass
class Log:
    starts: list[tuple[str, float]] = field(default_factory=list)  # (step key, start time)
    escalations: list[tuple[Any, str, float]] = field(default_factory=list)  # (incident, kind, time)
    decisions: list[tuple[float, Decision]] = field(default_factory=list)
    retry_starts_before_next_at: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class World:
    """One sick component: its breaker stays open and its check keeps failing unless a move changes that."""

    component: ComponentView
    ladder: LadderState = field(default_factory=LadderState)
    now: float = T0
    breaker: BreakerState = BreakerState.OPEN
    health: dict[str, Status] = field(default_factory=dict)
    checkpoints: dict[str, CheckpointView] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    next_incident: int = 1
    log: Log = field(default_factory=Log)

    def persist(self) -> None:
        """Every reducer's result is written before anything else happens: mirror it with a round trip."""
        text = self.ladder.to_json()
        self.ladder = LadderState.from_json(text)
        assert self.ladder.to_json() == text

    def decide(self) -> Decision:
        d = call(
            self.component,
            self.ladder,
            breaker=self.breaker,
            health=self.health,
            checkpoints=self.checkpoints,
            now=self.now,
        )
        again = call(
            self.component,
            LadderState.from_json(self.ladder.to_json()),
            breaker=self.breaker,
            health=self.health,
            checkpoints=self.checkpoints,
            now=self.now,
        )
        assert d == again, "a decision depends on something besides its inputs"
        self.log.decisions.append((self.now, d))
        return d

    def step(self, outcome: Outcome, duration: float, idle: float) -> Decision:
        """Decide once and apply it; a RunStep runs for `duration` and ends with `outcome`."""
        d = self.decide()
        if isinstance(d, OpenIncident):
            self.ladder = open_incident(self.ladder, self.next_incident, d.trigger, self.now)
            self.next_incident += 1
        elif isinstance(d, CloseIncident):
            self.ladder = on_breaker_closed(self.ladder, self.now)
        elif isinstance(d, Escalate):
            self.log.escalations.append((d.incident_id, d.kind, self.now))
            self.ladder = record_escalation(self.ladder, d.kind, d.index, d.channels, self.now, d.incident_id)
        elif isinstance(d, (RunStep, Failback)):
            self._run(d, outcome, duration)
        elif isinstance(d, Wait) and d.until is not None and d.until > self.now:
            self.now = min(d.until, self.now + idle) if idle else d.until
        else:
            self.now += max(idle, 1.0)
        self.persist()
        return d

    def _run(self, d: RunStep | Failback, outcome: Outcome, duration: float) -> None:
        strategy = d.strategy if isinstance(d, RunStep) else FAILBACK
        step = self.component.recovery[d.index]
        if strategy == "retry":
            next_at = self.ladder.step(d.index, strategy).next_at
            if next_at is not None and self.now < next_at:
                self.log.retry_starts_before_next_at.append((self.now, next_at))
            self.log.starts.append((f"{d.index}:{strategy}", self.now))
        elif strategy != FAILBACK:
            self.log.starts.append((f"{d.index}:{strategy}", self.now))
        candidate = d.candidate or (d.candidates[0] if isinstance(d, RunStep) and d.candidates else None)
        self.ladder = record_started(self.ladder, d.index, strategy, self.now, candidate)
        self.persist()
        self.now += duration
        if outcome is Outcome.INTERRUPTED:
            # kill -9 mid-action: only what was persisted survives; the restart finishes it as interrupted.
            self.ladder = LadderState.from_json(self.ladder.to_json())
        self.ladder = record_finished(self.ladder, step, outcome, self.now, self.rng)


def run_world(
    world: World, moves: list[tuple[Outcome, float, float]], before: Callable[[World, int], None] | None = None
) -> World:
    for i, (outcome, duration, idle) in enumerate(moves):
        if before is not None:
            before(world, i)
        world.step(outcome, duration, idle)
    return world


__all__ = [
    "T0",
    "CloseIncident",
    "Escalate",
    "Failback",
    "GlobalBudget",
    "Log",
    "Nothing",
    "OpenIncident",
    "RunStep",
    "Wait",
    "World",
    "call",
    "checkpoint",
    "comp",
    "dep",
    "escalate",
    "fallback",
    "is_action",
    "opened",
    "restore",
    "retry",
    "run_world",
    "spend",
]

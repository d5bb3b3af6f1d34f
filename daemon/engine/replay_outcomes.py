"""What a replayed action would have done: recorded when the history ran it, estimated otherwise.

A replay can know an action's outcome only when the recorded history ran the same action (same
component, strategy and step) at the same moment (within one check interval): then the recorded
verdict and duration are used ("recorded"). Anything else — a restart the live policy never ran, or
ran at another time — cannot be known, so it is **estimated** from the recorded outcomes of the same
(component, strategy, error class), with the rule stated in every label; `--assume healed|failed`
replaces the estimate by an explicit assumption. The rule, in order:

1. the recorded outcomes of (component, strategy, error class); if there are none,
2. those of (component, strategy), whatever the error class;
3. healed when at least half of them succeeded (interrupted ones say nothing and are left out);
4. no recorded outcome at all: failed — the cautious reading, the ladder goes on.

Durations follow the same rule (the median recorded duration of those outcomes); with none recorded,
a heal is verified by the next fast check (`fast_every`) and a failure waits out `verify_within`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Literal

RULE = (
    "estimated from recorded outcomes of the same (component, strategy, error class), else (component, "
    "strategy): healed when at least half succeeded; none recorded: failed"
)


@dataclass(frozen=True)
class RecordedAction:
    """One recorded recovery event, with the error class of the latest result before it started."""

    component: str
    strategy: str
    step: int
    started_at: float
    finished_at: float | None
    status: str
    error_class: str | None = None
    candidate: str | None = None
    action: str | None = None
    incident_id: int | None = None

    @property
    def failback(self) -> bool:
        return self.action == "deactivate"


@dataclass(frozen=True)
class Guess:
    succeeded: bool
    duration: float
    #: "recorded" (the history ran it then), "estimated" (the rule), "assumed" (--assume), or "observed"
    #: (shadow mode: the results that follow say whether it healed).
    basis: Literal["recorded", "estimated", "assumed", "observed"]
    rule: str
    candidate: str | None = None
    matched: RecordedAction | None = None


@dataclass
class Outcomes:
    recorded: list[RecordedAction]
    assume: Literal["healed", "failed"] | None = None
    fast_every: float = 1.0
    #: component → how far apart a replayed and a recorded start may be to be "the same action".
    tolerance: dict[str, float] = field(default_factory=dict)
    _used: set[int] = field(default_factory=set)

    def guess(
        self,
        component: str,
        strategy: str,
        step: int,
        error_class: str | None,
        at: float,
        verify_within: float,
        failback: bool = False,
        candidate: str | None = None,
    ) -> Guess:
        match = self._match(component, strategy, step, at, failback)
        if match is not None and match.finished_at is not None and match.status in ("succeeded", "failed"):
            self._used.add(id(match))
            return Guess(
                match.status == "succeeded",
                max(0.0, match.finished_at - match.started_at),
                "recorded",
                f"the history ran it at {match.started_at:.3f}: {match.status}",
                match.candidate or candidate,
                match,
            )
        if self.assume is not None:
            healed = self.assume == "healed"
            return Guess(
                healed, self.fast_every if healed else verify_within, "assumed", f"--assume {self.assume}", candidate
            )
        pool = [
            r
            for r in self.recorded
            if r.component == component
            and r.strategy == strategy
            and r.failback == failback
            and r.status in ("succeeded", "failed")
        ]
        same_error = [r for r in pool if r.error_class == error_class]
        basis = same_error or pool
        if not basis:
            return Guess(
                False,
                verify_within,
                "estimated",
                f"no recorded outcome of {strategy} on {component}: counted as failed",
                candidate,
            )
        wins = sum(r.status == "succeeded" for r in basis)
        healed = 2 * wins >= len(basis)
        durations = [
            r.finished_at - r.started_at
            for r in basis
            if r.finished_at is not None and (r.status == "succeeded") == healed
        ]
        duration = statistics.median(durations) if durations else (self.fast_every if healed else verify_within)
        scope = f"error {error_class or 'none'}" if same_error else "any error class"
        return Guess(
            healed,
            max(0.0, duration),
            "estimated",
            f"{wins}/{len(basis)} recorded {strategy} on {component} ({scope}) succeeded",
            candidate,
        )

    def _match(self, component: str, strategy: str, step: int, at: float, failback: bool) -> RecordedAction | None:
        tol = self.tolerance.get(component, 1.0)
        best = None
        for r in self.recorded:
            if (
                r.component != component
                or r.strategy != strategy
                or r.step != step
                or r.failback != failback
                or id(r) in self._used
                or abs(r.started_at - at) > tol
            ):
                continue
            if best is None or abs(r.started_at - at) < abs(best.started_at - at):
                best = r
        return best

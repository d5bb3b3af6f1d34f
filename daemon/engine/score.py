"""The system health score: one number (0–100) for "how much of this host is working".

`Σ wᵢ·hᵢ / Σ wᵢ` over the components whose state is *known*. Pure: the caller passes what it knows
about each component (last result, breaker) and the wall-clock time; nothing here reads a clock.

Decisions the issue left open, and why:

* **An open breaker outranks everything** (open, forced_open *and* half_open count 0, even when the
  last result is stale or healthy). While a breaker is open the scheduler may not probe at all, so its
  results go stale; that must not turn a known outage into "unknown". Half-open counts 0 too: the
  breaker has not yet admitted the component back, and letting the level recover before the breaker
  closes would switch flags on for a component that may trip again on the next probe.
  `disabled` means the operator turned breaking off; the last result decides as if it were closed.
* **Unknown is left out of the sum, not counted as 0 or 1.** Counting it 0 would drop the level at
  every start-up (nothing has been checked yet) and make an outage of healerd's own scheduling look
  like an outage of the host; counting it 1 would hide a real outage behind a hung check. Left out,
  the score describes what is known, and `unknown` says how much is not. When nothing is known the
  score is `None` and the level tracker keeps the level it had.
* **Unknown** = never checked, stale (no result for more than `stale_after` × the component's
  interval), or a check that itself reported `unknown` (e.g. a Nagios plugin exiting 3). A check that
  keeps saying unknown trips its breaker (the breaker counts unknown as a failure), and then it counts 0.
* The value is rounded to 1e-6 so that a score that is exactly a threshold on paper (e.g. 7 of 10
  equal weights = 70) is exactly that in floating point and compares as the operator expects.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from daemon.config.models import Component
from daemon.types import BreakerState, Status


class Condition(str, enum.Enum):
    """What one component is, as far as degradation is concerned."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    OPEN = "open"
    FORCED_OPEN = "forced_open"
    HALF_OPEN = "half_open"
    STALE = "stale"
    UNKNOWN = "unknown"

    @property
    def known(self) -> bool:
        return self not in (Condition.STALE, Condition.UNKNOWN)

    @property
    def down(self) -> bool:
        """Unhealthy or behind a breaker that is not closed: what switches off a flag's components."""
        return self in (Condition.UNHEALTHY, Condition.OPEN, Condition.FORCED_OPEN, Condition.HALF_OPEN)

    def describe(self) -> str:
        """`unhealthy`, `breaker open`, …: the words used in flag reasons."""
        if self in (Condition.OPEN, Condition.FORCED_OPEN, Condition.HALF_OPEN):
            return f"breaker {self.value}"
        return str(self.value)


_BREAKER_CONDITION = {
    BreakerState.OPEN: Condition.OPEN,
    BreakerState.FORCED_OPEN: Condition.FORCED_OPEN,
    BreakerState.HALF_OPEN: Condition.HALF_OPEN,
}


@dataclass(frozen=True, slots=True)
class Observation:
    """What is known about one component at scoring time. `last_ts` is wall-clock unix seconds."""

    name: str
    weight: float
    status: Status | str | None  # a stored result's status is its text; component_score reads either
    last_ts: float | None
    every_s: float
    breaker: BreakerState = BreakerState.CLOSED

    @classmethod
    def for_component(
        cls,
        component: Component,
        *,
        status: Status | str | None,  # a stored result's status is its text; compute_score reads either
        last_ts: float | None,
        breaker: BreakerState = BreakerState.CLOSED,
    ) -> Observation:
        return cls(
            name=component.name,
            weight=component.weight,
            status=status,
            last_ts=last_ts,
            every_s=component.check.every.total_seconds(),
            breaker=breaker,
        )


@dataclass(frozen=True, slots=True)
class ComponentScore:
    """One component's part in the score; `health` is None when it is unknown (left out of the sum)."""

    name: str
    weight: float
    condition: Condition
    health: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class Score:
    value: float | None
    components: tuple[ComponentScore, ...]

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components if c.health is None)

    @property
    def unknown_count(self) -> int:
        return len(self.unknown)

    @property
    def counted(self) -> tuple[ComponentScore, ...]:
        return tuple(c for c in self.components if c.health is not None)

    @property
    def conditions(self) -> dict[str, Condition]:
        """name → condition, the input `evaluate_flags` wants."""
        return {c.name: c.condition for c in self.components}


def assess(obs: Observation, now: float, *, degraded_weight: float = 0.5, stale_after: int = 3) -> ComponentScore:
    """Classify one component; the first rule that applies wins (breaker, never checked, stale, status)."""
    if obs.weight <= 0:
        raise ValueError(f"component {obs.name}: weight must be > 0, got {obs.weight}")

    def part(condition: Condition, health: float | None, detail: str) -> ComponentScore:
        return ComponentScore(obs.name, obs.weight, condition, health, detail)

    breaker = _BREAKER_CONDITION.get(BreakerState(obs.breaker))
    if breaker is not None:
        return part(breaker, 0.0, f"breaker {breaker.value}")
    if obs.status is None or obs.last_ts is None:
        return part(Condition.UNKNOWN, None, "never checked")
    age = now - obs.last_ts
    limit = stale_after * obs.every_s
    if age > limit:
        return part(Condition.STALE, None, f"stale: last result {age:.0f}s ago > {stale_after}×{obs.every_s:g}s")
    status = Status(obs.status)
    if status is Status.HEALTHY:
        return part(Condition.HEALTHY, 1.0, "healthy")
    if status is Status.DEGRADED:
        return part(Condition.DEGRADED, degraded_weight, f"degraded (counts {degraded_weight:g})")
    if status is Status.UNHEALTHY:
        return part(Condition.UNHEALTHY, 0.0, "unhealthy")
    return part(Condition.UNKNOWN, None, "check reported unknown")


def compute_score(
    observations: Iterable[Observation],
    now: float,
    *,
    degraded_weight: float = 0.5,
    stale_after: int = 3,
) -> Score:
    """The weighted availability of the known components, in percent; None when none is known."""
    if not 0 <= degraded_weight <= 1:
        raise ValueError(f"degraded_weight must be within 0..1, got {degraded_weight}")
    parts = tuple(assess(o, now, degraded_weight=degraded_weight, stale_after=stale_after) for o in observations)
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"a component is observed twice: {sorted(n for n in set(names) if names.count(n) > 1)}")
    known = [(p.weight, p.health) for p in parts if p.health is not None]
    total = sum(weight for weight, _ in known)
    if not known:
        return Score(None, parts)
    value = round(100.0 * sum(weight * health for weight, health in known) / total, 6)
    return Score(value, parts)

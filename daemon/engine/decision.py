"""What `decide()` reads and what it returns: plain frozen data the service builds from the DB and memory.

Kept apart from the decision logic so the service, the store and the CLI (`healerd explain`) can name
these types without pulling in the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from daemon.config.models import Component, DaemonSettings, Flapping, RecoveryStep
from daemon.types import BreakerState, Status

#: breaker states that mean "this component is failing" for root-cause and candidate rules.
SICK_BREAKERS = frozenset({BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.FORCED_OPEN})


# --- inputs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentView:
    name: str
    #: the latest check result's status and error class (None when it passed).
    status: Status
    error_class: str | None
    recovery: tuple[RecoveryStep, ...]
    depends_on: tuple[str, ...] = ()
    #: seconds without a new action after a verified recovery (a floor; 0 = off).
    cooldown: float = 0.0
    #: the cap of the restart backoff across incidents.
    restart_backoff_max: float = 300.0
    #: wall time of the latest check result (None: never checked); a dependency's recovery newer than
    #: this means the component's status predates it and must be checked again before acting.
    checked_at: float | None = None
    #: a maintenance window or silence covers it (its description) until `suppressed_until`: no action,
    #: no escalation; checks still run and the incident still closes when the breaker does.
    suppressed: str | None = None
    suppressed_until: float | None = None
    flapping: Flapping = field(default_factory=Flapping)

    @classmethod
    def from_config(
        cls,
        component: Component,
        status: Status,
        error_class: str | None,
        settings: DaemonSettings,
        checked_at: float | None = None,
        suppressed: str | None = None,
        suppressed_until: float | None = None,
    ) -> ComponentView:
        return cls(
            name=component.name,
            status=status,
            error_class=error_class,
            recovery=tuple(component.recovery),
            depends_on=tuple(component.depends_on),
            cooldown=settings.cooldown.total_seconds(),
            restart_backoff_max=settings.restart_backoff_max.total_seconds(),
            checked_at=checked_at,
            suppressed=suppressed,
            suppressed_until=suppressed_until,
            flapping=component.flapping,
        )


@dataclass(frozen=True)
class BreakerView:
    state: BreakerState
    since: float | None = None


@dataclass(frozen=True)
class DepView:
    """Any other component: pass at least the transitive dependencies and the fallback candidates."""

    name: str
    status: Status
    breaker: BreakerState
    depends_on: tuple[str, ...] = ()
    #: wall time the breaker entered its current state (for a closed one: when it recovered).
    since: float | None = None

    @property
    def sick(self) -> bool:
        """Unknown counts as sick: healing a dependent before its dependency's first check is a guess."""
        return self.breaker in SICK_BREAKERS or self.status.is_failure


@dataclass(frozen=True)
class GlobalBudget:
    #: components with a step or failback in progress right now (the service counts them).
    running: int
    max_concurrent: int

    @classmethod
    def from_settings(cls, running: int, settings: DaemonSettings) -> GlobalBudget:
        return cls(running=running, max_concurrent=settings.max_concurrent_recoveries)


@dataclass(frozen=True)
class CheckpointView:
    """The newest version of a named checkpoint."""

    name: str
    id: int | str
    taken_at: float
    verified: bool


# --- decisions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wait:
    """Nothing now; decide again at `until` (wall) or, when None, on the next event (result, finish)."""

    until: float | None
    reason: str
    #: the dependency the incident waits for (written to `incidents.waiting_on`).
    waiting_on: str | None = None


@dataclass(frozen=True)
class RunStep:
    index: int
    strategy: str
    candidate: str | None
    reason: str
    incident_id: int | str | None = None
    #: 1-based number of this attempt within the step's window (`recovery_events.attempt`).
    attempt: int = 1
    #: fallback: every healthy candidate in preference order (all of them are probed for `fastest`).
    candidates: tuple[str, ...] = ()
    #: restore: the checkpoint version that was verified when deciding.
    checkpoint_id: int | str | None = None


@dataclass(frozen=True)
class Escalate:
    index: int
    channels: tuple[str, ...]
    kind: Literal["initial", "reminder", "resolved"]
    reason: str
    incident_id: int | str | None = None


@dataclass(frozen=True)
class Failback:
    """Run the fallback step's `deactivate`: the primary is back (or the standby is worse than it)."""

    index: int
    candidate: str
    reason: str
    incident_id: int | str | None = None


@dataclass(frozen=True)
class OpenIncident:
    trigger: Literal["breaker", "operator", "flapping"]
    reason: str


@dataclass(frozen=True)
class CloseIncident:
    incident_id: int | str
    reason: str


@dataclass(frozen=True)
class Nothing:
    reason: str


def nothing_to_heal(breaker: BreakerState) -> Nothing:
    """decide()'s answer for a healthy component with nothing pending (also what the healer's quiet
    shortcut compares the last recorded decision with: heal_apply.is_quiet)."""
    return Nothing(f"breaker {breaker.value}: nothing to heal")


Decision = Wait | RunStep | Escalate | Failback | OpenIncident | CloseIncident | Nothing
#: decisions that act on a component (what the global limit and the cooldown govern).
ACTIONS = (RunStep, Failback)

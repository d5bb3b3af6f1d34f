"""What a chaos run reads from the daemon: the score and level, the target's own state, the dry-run set.

Read-only views of the daemon, kept apart from the run's lifecycle (service/chaos/run.py) so the
steady-state rule is stated once:

* the steady state holds when the score is known and ≥ `min_score` *and* the target is well (breaker
  closed or disabled, last result healthy or degraded) — a system fine on average while the target
  itself is down is neither a state to inject into nor one to call recovered;
* the score and level are the degradation service's (service/degradation/service.py): one source of truth,
  already computed on each status change (50 ms debounce) and every second, instead of recomputing
  O(components) on every sample here. The level is its tracker's, which drops at once and climbs back
  with hysteresis (and which an operator override pins): the level the system really ran at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.types import BreakerState, Level, Status

if TYPE_CHECKING:
    from daemon.service.wiring import ChaosHost

WELL_BREAKERS = (BreakerState.CLOSED, BreakerState.DISABLED)


def dry_run_components(daemon: ChaosHost) -> set[str]:
    """Targets of dry-run experiments. The healer reads the same set (HealerLinks.dry_run): for these it
    records what it would do (recovery_events with dry_run = 1) and runs, sends and spends nothing."""
    return daemon.dry_run_components


def health(daemon: ChaosHost) -> tuple[float | None, Level | None]:
    """The degradation service's latest score and level; (None, None) before its first evaluation."""
    degradation = daemon.degradation
    score = getattr(getattr(degradation, "score", None), "value", None)
    tracker = getattr(degradation, "tracker", None)
    return score, None if tracker is None else tracker.level


def target_well(daemon: ChaosHost, target: str) -> tuple[bool, str]:
    """Whether the target itself is fine now, and if not, why (a clause for the journal)."""
    monitor = daemon.monitor
    if monitor is None:
        return False, "the monitor has not started"
    breaker = monitor.breakers.get(target)
    if breaker is not None and breaker.state not in WELL_BREAKERS:
        return False, f"the breaker of {target} is {breaker.state.value}"
    last = monitor.last.get(target)
    if last is None:
        return False, f"{target} has not been checked yet"
    if last.status not in (Status.HEALTHY, Status.DEGRADED):
        return False, f"{target}'s last check was {last.status.value}"
    return True, ""


def steady_state(daemon: ChaosHost, target: str, min_score: float) -> tuple[bool, float | None, Level | None, str]:
    """(holds, score, level, why not)."""
    score, level = health(daemon)
    if score is None:
        return False, None, level, "the score is unknown (nothing checked yet)"
    if score < min_score:
        return False, score, level, f"score {score:g} < min_score {min_score:g}"
    well, why = target_well(daemon, target)
    return well, score, level, why

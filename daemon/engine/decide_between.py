"""decide()'s rules for what happens *between* incidents (issue 10), kept apart so decide.py stays one
page of gates: the restart backoff and cooldown floor, a dependency's recovery waking its dependents,
and a flapping incident's good phases. Pure, like decide(); `facts` is decide's `_Facts`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from daemon.config.durations import format_duration
from daemon.config.models import Backoff
from daemon.engine.decision import CloseIncident, Decision, Wait
from daemon.engine.ladder import IncidentState
from daemon.policies.backoff import restart_delay
from daemon.timefmt import span

#: the restart backoff of a step without a backoff of its own (restore, fallback).
_DEFAULT_BACKOFF = Backoff()


def dependency_recovered(facts: Any, inc: IncidentState) -> str | None:
    """The dependency this incident waited on, once it is no longer sick (its recovery cuts waits)."""
    dep = facts.deps.get(inc.waiting_on) if inc.waiting_on is not None else None
    return dep.name if dep is not None and not dep.sick else None


def recheck_after_dependency(facts: Any, inc: IncidentState) -> str | None:
    """A dependent's last result predates its dependency's recovery: check it again before acting.

    Its failure was most likely the dependency's; restarting it on a stale result would be the very
    action the wait was there to avoid. The service pulls such checks forward when a breaker closes.
    """
    name = dependency_recovered(facts, inc)
    if name is None:
        return None
    since, checked = facts.deps[name].since, facts.component.checked_at
    if since is None or (checked is not None and checked > since):
        return None
    return f"{name} recovered {span(facts.now - since)} ago: {facts.component.name} is checked again before any action"


def restart_wait(facts: Any, inc: IncidentState, step: object) -> tuple[float, str] | None:
    """The later of the restart backoff (first action of a repeated incident) and the cooldown floor."""
    component, ladder, now = facts.component, facts.ladder, facts.now
    waits: list[tuple[float, str]] = []
    if inc.first_action_at is None and inc.repeat >= 2:
        cap = component.restart_backoff_max
        delay = restart_delay(inc.repeat, getattr(step, "backoff", None) or _DEFAULT_BACKOFF, cap)
        until = inc.opened_at + delay
        if now < until:
            waits.append(
                (
                    until,
                    (
                        f"restart backoff: incident {inc.repeat + 1} in a row without a long healthy spell; its first "
                        f"action waits {dur(delay)}{' (the cap)' if delay >= cap else ''} after it opened: "
                        f"{span(until - now)} from now"
                    ),
                )
            )
    if (
        component.cooldown > 0
        and ladder.last_success_at is not None
        and now < ladder.last_success_at + component.cooldown
    ):
        until = ladder.last_success_at + component.cooldown
        waits.append(
            (
                until,
                f"cooldown after the recovery {span(now - ladder.last_success_at)} ago: until {span(until - now)} from now",
            )
        )
    return max(waits) if waits else None


def flap_count(facts: Any) -> int:
    """Flaps (incidents that ended by themselves) within the flapping window."""
    within = facts.component.flapping.within.total_seconds()
    return sum(1 for t in facts.ladder.flap_opens if t > facts.now - within)


def flapping_passing(facts: Any, inc: IncidentState) -> Decision:
    """A flapping incident stays open through the good phases; it ends after `quiet` healthy."""
    quiet = facts.component.flapping.quiet.total_seconds()
    since = facts.ladder.healthy_since
    if since is not None and facts.now - since >= quiet:
        return CloseIncident(
            inc.id, f"flapping ended: healthy for {span(facts.now - since)} (≥ {dur(quiet)}); incident {inc.id} closes"
        )
    until = None if since is None else since + quiet
    healthy = "not healthy yet" if since is None else f"healthy for {span(facts.now - since)}"
    # no reminder in a good phase: a component that passes is never paged (the property tests pin it)
    return Wait(
        until,
        f"flapping: breaker {facts.breaker.state.value}, {healthy}; the flapping incident ends "
        f"after {dur(quiet)} healthy",
    )


def dur(seconds: float) -> str:
    return format_duration(timedelta(seconds=seconds))

"""Which fallback candidate to activate: the pure half of a fallback step's `select`.

The decision picks from facts passed in (status, breaker, recent success rate and latency); the actor
only probes when the policy is `fastest`, because "first to answer" cannot be known without asking.
Randomness comes from a seed derived from the incident and the attempt, so the same inputs always give
the same choice (decisions are replayable), while successive attempts and incidents still spread.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from daemon.types import BreakerState, Status

#: a candidate without recent stats counts as half as good as a flawless one: unproven, but not failing.
UNKNOWN_SUCCESS_RATE = 0.5
#: latency (ms) at which a candidate's score halves; keeps a slow-but-reliable standby in the race.
LATENCY_HALF_SCORE_MS = 1000.0
_PASSING_BREAKERS = (BreakerState.CLOSED, BreakerState.DISABLED)


@dataclass(frozen=True)
class CandidateStats:
    """Recent figures of one candidate (from the hourly rollups): success share 0..1 and mean latency."""

    success_rate: float
    latency_ms: float | None = None


@dataclass(frozen=True)
class Selection:
    #: the chosen candidate, or None when the actor chooses (`fastest`) or nothing is healthy.
    candidate: str | None
    #: the healthy candidates in preference order (what `fastest` probes concurrently).
    candidates: tuple[str, ...]
    #: why, for the decision's reason, e.g. "app-standby (healthy, sequential)".
    note: str


def candidate_problem(
    name: str,
    owner: str,
    health: Mapping[str, Status],
    breakers: Mapping[str, BreakerState],
) -> str | None:
    """Why `name` cannot take over from `owner` (None if it can): only a healthy, un-tripped standby may."""
    if name == owner:
        return "is the component itself"
    status = health.get(name, Status.UNKNOWN)
    if status is not Status.HEALTHY:
        return str(status.value)
    breaker = breakers.get(name)
    if breaker is not None and breaker not in _PASSING_BREAKERS:
        return f"breaker {breaker.value}"
    return None


def score(stats: CandidateStats | None) -> float:
    """Success rate discounted by latency: 1.0 for flawless and instant, half at LATENCY_HALF_SCORE_MS."""
    if stats is None:
        return UNKNOWN_SUCCESS_RATE
    rate = min(max(stats.success_rate, 0.0), 1.0)
    latency = max(stats.latency_ms or 0.0, 0.0)
    return rate * LATENCY_HALF_SCORE_MS / (LATENCY_HALF_SCORE_MS + latency)


def select(
    policy: str,
    candidates: Sequence[str],
    owner: str,
    health: Mapping[str, Status],
    breakers: Mapping[str, BreakerState],
    failed: Sequence[str],
    stats: Mapping[str, CandidateStats],
    seed: str,
    exclude: Sequence[str] = (),
) -> Selection:
    """Choose among the healthy candidates.

    - `sequential`: the first healthy one in the configured order.
    - `random`: uniformly among the healthy ones (seeded by `seed`).
    - `weighted`: the best `score` (success rate discounted by latency); ties keep configured order.
    - `fastest`: no choice here; `candidates` lists every healthy one for the actor to probe at once.
    Candidates that already failed in this incident (`failed`) are passed over while any other healthy
    one is left; `exclude` (e.g. the active fallback that has turned sick) is never chosen.
    """
    problems: list[str] = []
    healthy: list[str] = []
    for name in candidates:
        problem = "active, now sick" if name in exclude else candidate_problem(name, owner, health, breakers)
        if problem is None:
            healthy.append(name)
        else:
            problems.append(f"{name} {problem}")
    fresh = [c for c in healthy if c not in failed]
    pool = fresh or healthy
    if not pool:
        return Selection(None, (), "no healthy candidate (" + ", ".join(problems) + ")")
    retried = "" if fresh else ", every healthy one failed before"
    if problems:
        retried += "; passed over " + ", ".join(problems)
    if policy == "sequential":
        return Selection(pool[0], tuple(pool), f"{pool[0]} (healthy, sequential{retried})")
    if policy == "random":
        choice = random.Random(seed).choice(pool)
        return Selection(choice, tuple(pool), f"{choice} (healthy, random among {len(pool)}{retried})")
    if policy == "weighted":
        ranked = sorted(pool, key=lambda c: -score(stats.get(c)))
        figures = ", ".join(f"{c} {score(stats.get(c)):.2f}" for c in ranked)
        return Selection(ranked[0], tuple(ranked), f"{ranked[0]} (healthy, weighted: {figures}{retried})")
    if policy == "fastest":
        return Selection(None, tuple(pool), f"fastest of {', '.join(pool)} (probed together{retried})")
    raise ValueError(f"unknown select policy {policy!r}")

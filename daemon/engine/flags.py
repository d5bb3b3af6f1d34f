"""Feature flags: which optional features an application should keep on at the current level.

A flag is off when any of these holds, and its reason lists every one that does:

* `level minimal ≥ off_at reduced` — the level is at or worse than the flag's `off_at`;
* `component db unhealthy` / `component db breaker open` — a listed component is down (unhealthy, or
  its breaker is open, forced open or half-open), whatever the level;
* `depends on checkout (off)` — a flag it depends on is off (so, transitively, its whole chain).

Decisions the issue left open, and why:

* A listed component that is unknown or stale (or absent from the input) does **not** switch a flag
  off: at start-up nothing has been checked yet, and flags must not all blink off on every restart.
  Degraded does not switch it off either: the component still answers.
* The config loader refuses dependency cycles and undefined names; if one reaches here anyway, the
  flags involved are off with a reason that says so, rather than the evaluation crashing or looping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from daemon.config.models import Flag
from daemon.engine.score import Condition
from daemon.types import Level


class FlagState(NamedTuple):
    enabled: bool
    reason: str


def evaluate_flags(
    flags: Iterable[Flag], level: Level, component_health: Mapping[str, Condition]
) -> dict[str, FlagState]:
    """name → (enabled, reason), in the order the flags were given."""
    by_name: dict[str, Flag] = {}
    for flag in flags:
        if flag.name in by_name:
            raise ValueError(f"flag {flag.name!r} is defined twice")
        by_name[flag.name] = flag

    level = Level(level)
    result: dict[str, FlagState] = {}
    cyclic: dict[str, str] = {}  # flag → the cycle it sits on

    def own_reasons(flag: Flag) -> list[str]:
        reasons = []
        if level.rank >= flag.off_at.rank:
            reasons.append(f"level {level.value} ≥ off_at {flag.off_at.value}")
        for comp in flag.components:
            condition = component_health.get(comp)
            if condition is not None and Condition(condition).down:
                reasons.append(f"component {comp} {Condition(condition).describe()}")
        return reasons

    def settle(name: str) -> FlagState:
        """Called once every dependency is settled (or sits on a cycle with `name`)."""
        flag = by_name[name]
        reasons = own_reasons(flag)
        for dep in flag.depends_on:
            if dep not in by_name:
                reasons.append(f"depends on undefined flag {dep}")
            elif dep not in result or not result[dep].enabled:  # unsettled = on a cycle = off
                reasons.append(f"depends on {dep} (off)")
        if name in cyclic:
            reasons.insert(0, cyclic[name])
        if reasons:
            return FlagState(False, "; ".join(reasons))
        return FlagState(True, f"level {level.value} < off_at {flag.off_at.value}")

    # Depth-first with an explicit stack, so a long chain cannot hit Python's recursion limit.
    for root in by_name:
        if root in result:
            continue
        path = [root]
        pending = [iter(by_name[root].depends_on)]
        while path:
            dep = next(pending[-1], None)
            if dep is None:
                name = path.pop()
                pending.pop()
                result[name] = settle(name)
            elif dep in by_name and dep not in result:
                if dep in path:
                    members = path[path.index(dep) :]
                    why = "dependency cycle: " + " → ".join(members + [dep])
                    for member in members:
                        cyclic.setdefault(member, why)
                else:
                    path.append(dep)
                    pending.append(iter(by_name[dep].depends_on))
    return {name: result[name] for name in by_name}

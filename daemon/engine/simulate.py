"""`healerd check --simulate`: canned failures through each component's policy, and what a syntax check misses.

The scenarios run through the replay engine (engine/replay.py: the daemon's breaker, decide() and
ladder) on synthetic check results, every other component healthy, every action assumed to fail (the
worst case a ladder must still handle), every declared checkpoint assumed verified:

- down: the component fails for `escalate_within` (default 10 min): a ladder whose escalate step is
  not reached in that time is a problem; a ladder without one is noted (not paging for a standby can
  be a choice);
- flapping: down 15 s / up 15 s (a flap every 30 s) for 10 min: reported (actions, pages);
- dependency down: each dependency down for 10 min: the dependent must not act (root cause first);
- slow: results above `degraded_over` for 10 min: a slow service must not be restarted.

Static rules (no scenario needed):
- a step's `verify_within` shorter than the check cadence × the breaker's `half_open_successes`
  (the breaker cannot have confirmed the recovery when the step is judged), or than the check timeout;
- `systemctl restart UNIT` actions against the unit's own systemd settings (`systemctl show`, read by the
  caller): a retry budget ≥ `StartLimitBurst=` within `StartLimitIntervalSec=` ("Start request
  repeated too quickly"), or the unit's own `Restart=` (two healers fighting);
- an action that restarts a unit another component depends on (its dependents go down with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from daemon.config.durations import format_duration
from daemon.config.models import EscalateStep, HealerdConfig, RetryStep, SystemdCheck
from daemon.engine.decision import CheckpointView
from daemon.engine.replay import Replay
from daemon.engine.replay_outcomes import Outcomes

MINUTES_10 = 600.0
_RESTART_VERBS = ("restart", "try-restart", "reload-or-restart", "try-reload-or-restart", "start")


@dataclass(frozen=True)
class Finding:
    component: str
    text: str
    problem: bool = True

    def __str__(self) -> str:
        return f"{self.component}: {self.text}"


def _dur(seconds: float) -> str:
    from datetime import timedelta

    if seconds >= 60 and seconds % 1:
        return f"{seconds / 60:.1f}min"
    return format_duration(timedelta(seconds=round(seconds, 3)))


# --- scenarios -------------------------------------------------------------------------------------


def _stream(config: HealerdConfig, duration: float, pattern: Mapping[str, Any], t0: float) -> list[tuple]:
    """Results for every component at its cadence: `pattern[name](offset)` → (status, error) else healthy."""
    rows = []
    for name, component in config.components.items():
        every = component.check.every.total_seconds()
        fn = pattern.get(name)
        k = 0
        while k * every <= duration:
            offset = k * every
            status, error = fn(offset) if fn is not None else ("healthy", None)
            rows.append((name, t0 + offset, status, error, 0))
            k += 1
    rows.sort(key=lambda r: r[1])
    return rows


def _run(config: HealerdConfig, pattern: Mapping[str, Any], duration: float, t0: float = 1_800_000_000.0):
    checkpoints = [CheckpointView(n, 0, t0 - 60, True) for n in config.checkpoints]
    replay = Replay(
        config,
        Outcomes([], assume="failed", fast_every=config.settings.daemon.fast_every.total_seconds()),
        checkpoints=checkpoints,
    )
    return replay.run(_stream(config, duration, pattern, t0), until=t0 + duration), t0


def _down(offset: float) -> tuple[str, str | None]:
    return "unhealthy", "refused"


def _flapping(offset: float) -> tuple[str, str | None]:
    return ("unhealthy", "refused") if offset % 30 < 15 else ("healthy", None)


def _slow(offset: float) -> tuple[str, str | None]:
    return "degraded", None


def _tally(result, name: str) -> tuple[int, int, float | None]:
    incidents = result.incidents[name]
    actions = sum(len(i.actions) for i in incidents)
    pages = sum(len(ch) for i in incidents for _, kind, ch in i.escalations if kind != "resolved")
    first = min((ts for i in incidents for ts, kind, _ in i.escalations if kind == "initial"), default=None)
    return actions, pages, first


def scenarios(config: HealerdConfig, escalate_within: float = MINUTES_10) -> list[Finding]:
    out: list[Finding] = []
    for name, component in config.components.items():
        result, t0 = _run(config, {name: _down}, escalate_within)
        actions, pages, first = _tally(result, name)
        if not any(isinstance(s, EscalateStep) for s in component.recovery):
            # a note, not a problem: not paging for a standby or a batch job can be the operator's choice
            out.append(
                Finding(
                    name,
                    f"down {_dur(escalate_within)}: {actions} actions, then nothing: no escalate "
                    "step, a failure nothing fixes is never told to a human",
                    problem=False,
                )
            )
        elif first is None:
            out.append(
                Finding(
                    name,
                    f"down {_dur(escalate_within)}: the ladder does not reach escalate within "
                    f"{_dur(escalate_within)} with every action failing ({actions} actions)",
                )
            )
        else:
            out.append(
                Finding(
                    name,
                    f"down {_dur(escalate_within)}: {actions} actions, escalates after {_dur(first - t0)}",
                    problem=False,
                )
            )
        result, _ = _run(config, {name: _flapping}, MINUTES_10)
        actions, pages, _first = _tally(result, name)
        out.append(
            Finding(
                name,
                f"flapping every 30s for 10m: {len(result.incidents[name])} incidents, "
                f"{actions} actions, {pages} pages",
                problem=False,
            )
        )
        for dep in component.depends_on:
            if dep not in config.components:
                continue
            result, _ = _run(config, {dep: _down, name: _down}, MINUTES_10)
            actions, _pages, _first = _tally(result, name)
            out.append(
                Finding(
                    name,
                    f"{dep} down 10m: {name} took {actions} actions"
                    + ("" if actions else " (it waits for its dependency)"),
                    problem=actions > 0,
                )
            )
        if component.check.degraded_over is not None:
            result, _ = _run(config, {name: _slow}, MINUTES_10)
            actions, _pages, _first = _tally(result, name)
            out.append(Finding(name, f"slow above degraded_over for 10m: {actions} actions", problem=actions > 0))
    return out


# --- static rules ------------------------------------------------------------------------------------


def verify_windows(config: HealerdConfig) -> list[Finding]:
    out = []
    for name, component in config.components.items():
        every = component.check.every.total_seconds()
        successes = component.breaker.half_open_successes
        needed = every * successes
        for index, step in enumerate(component.recovery):
            if isinstance(step, EscalateStep):
                continue
            verify = step.verify_within.total_seconds()
            where = f"recovery[{index}] ({step.strategy})"
            if verify < component.check.timeout.total_seconds():
                out.append(
                    Finding(
                        name,
                        f"{where}: verify_within {_dur(verify)} is shorter than the check timeout "
                        f"{_dur(component.check.timeout.total_seconds())}: a slow check can never verify it",
                    )
                )
            elif verify < needed:
                out.append(
                    Finding(
                        name,
                        f"{where}: verify_within {_dur(verify)} is shorter than the check cadence × "
                        f"half_open_successes ({_dur(every)} × {successes} = {_dur(needed)}): "
                        "the step is judged before the breaker can confirm it",
                    )
                )
    return out


def restarted_unit(argv: list[str] | None) -> str | None:
    """UNIT when argv is `systemctl [options] restart UNIT` (or try-restart, reload-or-restart, start)."""
    if not argv or argv[0].rsplit("/", 1)[-1] != "systemctl":
        return None
    words = [a for a in argv[1:] if not a.startswith("-")]
    if len(words) >= 2 and words[0] in _RESTART_VERBS:
        return words[1]
    return None


def unit_actions(config: HealerdConfig) -> list[tuple[str, int, Any, str]]:
    """(component, step index, step, unit) of every action that restarts a systemd unit."""
    out = []
    for name, component in config.components.items():
        for index, step in enumerate(component.recovery):
            for action in (getattr(step, "action", None), getattr(step, "then", None)):
                unit = restarted_unit(action.run if action is not None else None)
                if unit is not None:
                    out.append((name, index, step, unit))
    return out


def _unit_of(component) -> str | None:
    if isinstance(component.check, SystemdCheck):
        return component.check.unit
    return next(
        (
            restarted_unit(s.action.run)
            for s in component.recovery
            if isinstance(s, RetryStep) and restarted_unit(s.action.run)
        ),
        None,
    )


def _same_unit(a: str, b: str) -> bool:
    return a.removesuffix(".service") == b.removesuffix(".service")


def dependency_restarts(config: HealerdConfig) -> list[Finding]:
    owners = {n: _unit_of(c) for n, c in config.components.items()}
    out = []
    for name, index, step, unit in unit_actions(config):
        for owner, owned in owners.items():
            if owner == name or owned is None or not _same_unit(owned, unit):
                continue
            dependents = [d for d in config.dependents(owner) if d != name]
            if dependents:
                out.append(
                    Finding(
                        name,
                        f"recovery[{index}] ({step.strategy}) restarts {unit}, the unit of {owner}, "
                        f"which {', '.join(dependents)} depend(s) on: healing {name} takes them down",
                    )
                )
    return out


def unit_limits(config: HealerdConfig, shown: Mapping[str, Mapping[str, str] | None]) -> list[Finding]:
    """shown: unit → its `systemctl show` properties (None when it could not be read)."""
    out = []
    for name, index, step, unit in unit_actions(config):
        props = shown.get(unit)
        if props is None:
            continue
        where = f"recovery[{index}] ({step.strategy}) restarts {unit}"
        restart = props.get("Restart", "no")
        if restart not in ("", "no"):
            out.append(
                Finding(
                    name,
                    f"{where}, which has its own Restart={restart}: systemd and healerd both "
                    "restart it (double remediation)",
                )
            )
        burst = props.get("StartLimitBurst")
        interval = timespan(props.get("StartLimitIntervalUSec") or props.get("StartLimitIntervalSec") or "")
        attempts = getattr(step, "attempts", 1)
        if burst and burst.isdigit() and interval and int(burst) > 0 and attempts >= int(burst):
            within = getattr(step, "within", None)
            window = f" within {_dur(within.total_seconds())}" if within is not None else ""
            out.append(
                Finding(
                    name,
                    f"{where}: {attempts} attempts{window} reach the unit's StartLimitBurst={burst} "
                    f"within StartLimitIntervalSec={_dur(interval)}: systemd refuses with "
                    '"Start request repeated too quickly"',
                )
            )
    return out


def parse_show(text: str) -> dict[str, str]:
    """`systemctl show` output (Key=Value per line) as a dict."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


_UNITS = {
    "us": 1e-6,
    "usec": 1e-6,
    "ms": 1e-3,
    "msec": 1e-3,
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "min": 60,
    "m": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}


def timespan(text: str) -> float | None:
    """A systemd time span ("10s", "1min 30s", "500ms", "infinity", bare µs) in seconds; None if unset."""
    import re

    text = text.strip()
    if not text or text == "infinity":
        return None
    if text.isdigit():
        return int(text) / 1e6  # the *USec properties are bare microseconds with --value on some versions
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)\s*([a-z]+)", text):
        if unit not in _UNITS:
            return None
        total += float(number) * _UNITS[unit]
    return total or None

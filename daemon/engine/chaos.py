"""A chaos run's verdict and advice, as pure functions of what the run observed.

The service (service/chaos/run.py) injects, watches and rolls back; everything it concludes from that
is decided here, so each rule is pinned by a test with plain numbers and no daemon.

Rules, and why:

* **Verdict order**: interrupted (a restart cut the run short: nothing it saw is a result) → refused
  (the steady state did not hold before, so nothing was injected: the system was not fit to test) →
  aborted (the score fell through the safety floor: the run was stopped on purpose) → failed (the
  fault could not be injected, a promise was missed, or the steady state did not come back) → passed.
* **Detection** is the target's breaker opening after the injection; `detected_within` is counted
  from the injection. A fault that was never detected misses the promise when there is one; without
  a promise it is not a failure in itself (the advice says so), because some faults (a short latency
  under `degraded_over`) are meant to be absorbed.
* **Recovery** is the breaker closing again after it opened. Its clock starts at the injection, except
  when the fault was *held* (latency, error, unavailable, run) and the recovery came after the revert:
  nothing can heal a fault while it is still being applied, so that time is counted from the revert.
* **Dry run** (`actions = "dry-run"`): the healer only records what it would do, so the recovery
  promise is not judged; detection, the level and the steady state after the rollback still are.
* **Level**: the worst degradation level reached must not be worse than `expect.max_level`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from daemon.config.durations import format_duration
from daemon.config.models import Experiment, HealerdConfig
from daemon.types import Level

#: Faults that last until they are reverted (the window's length); the others are one-shot events.
HELD_FAULTS = frozenset({"latency", "error", "unavailable", "run"})
#: Faults applied inside healerd to the target's check results (marked `injected`).
IN_DAEMON_FAULTS = frozenset({"latency", "error", "unavailable"})

VERDICTS = ("passed", "failed", "aborted", "interrupted", "refused")


@dataclass(frozen=True)
class TargetFacts:
    """What the advice needs to know about the target component's configuration (seconds)."""

    name: str
    check_kind: str
    every_s: float
    consecutive_failures: int
    open_for_s: float
    half_open_successes: int
    fast_every_s: float
    has_recovery: bool
    weight_share: float  # the target's weight / all components' weight, 0..1
    degraded_over_s: float | None = None
    timeout_s: float | None = None

    @classmethod
    def from_config(cls, config: HealerdConfig, name: str) -> TargetFacts | None:
        component = config.components.get(name)
        if component is None:
            return None
        total = sum(c.weight for c in config.components.values()) or 1.0
        check = component.check
        return cls(
            name=name,
            check_kind=check.kind,
            every_s=check.every.total_seconds(),
            consecutive_failures=component.breaker.consecutive_failures,
            open_for_s=component.breaker.open_for.total_seconds(),
            half_open_successes=component.breaker.half_open_successes,
            fast_every_s=config.settings.daemon.fast_every.total_seconds(),
            has_recovery=bool(component.recovery),
            weight_share=component.weight / total,
            degraded_over_s=None if check.degraded_over is None else check.degraded_over.total_seconds(),
            timeout_s=check.timeout.total_seconds(),
        )


@dataclass
class RunFacts:
    """What one run observed. Times are wall-clock unix seconds; None = did not happen."""

    started_at: float
    fault_kind: str
    dry_run: bool = False
    score_before: float | None = None
    refused: str | None = None
    inject_error: str | None = None
    injected_at: float | None = None
    detected_at: float | None = None
    recovered_at: float | None = None
    reverted_at: float | None = None
    min_score: float | None = None
    max_level: Level | None = None
    aborted: str | None = None
    window_s: float = 0.0
    #: None = not checked (the run ended before), else whether score >= min_score held after the fault.
    steady_after: bool | None = None
    score_after: float | None = None
    settle_s: float = 0.0
    rolled_back: bool | None = None
    rollback_error: str | None = None
    interrupted: str | None = None

    @property
    def held(self) -> bool:
        return self.fault_kind in HELD_FAULTS


@dataclass(frozen=True)
class Judgement:
    verdict: str
    reason: str
    missed: tuple[str, ...] = field(default=())


def seconds(value: float) -> str:
    """`7 s`, `0.25 s`, `90 s`: the unit operators read in a reason, rounded to what matters."""
    if value >= 10:
        return f"{value:.0f} s"
    return f"{value:.2f}".rstrip("0").rstrip(".") + " s"


def _dur(td: timedelta) -> str:
    return format_duration(td)


def time_to_detect(facts: RunFacts) -> float | None:
    if facts.injected_at is None or facts.detected_at is None:
        return None
    return max(0.0, facts.detected_at - facts.injected_at)


def recovery_clock_start(facts: RunFacts) -> float | None:
    """The injection, or the revert when a held fault's recovery came after it (see the module doc)."""
    if facts.injected_at is None:
        return None
    if (
        facts.held
        and facts.reverted_at is not None
        and facts.recovered_at is not None
        and facts.recovered_at >= facts.reverted_at
    ):
        return facts.reverted_at
    return facts.injected_at


def time_to_recover(facts: RunFacts) -> float | None:
    start = recovery_clock_start(facts)
    if start is None or facts.recovered_at is None:
        return None
    return max(0.0, facts.recovered_at - start)


def promises_missed(experiment: Experiment, facts: RunFacts) -> list[str]:
    """Each missed promise as a sentence, in the order detect → recover → level → steady state."""
    expect = experiment.expect
    missed: list[str] = []
    detect = time_to_detect(facts)
    if expect.detected_within is not None:
        limit = expect.detected_within.total_seconds()
        if detect is None:
            missed.append(
                f"not detected (the breaker of {experiment.target} never opened; "
                f"promise: within {_dur(expect.detected_within)})"
            )
        elif detect > limit:
            missed.append(f"detected after {seconds(detect)}, promise: within {_dur(expect.detected_within)}")
    if expect.recovered_within is not None and not facts.dry_run and facts.detected_at is not None:
        limit = expect.recovered_within.total_seconds()
        recover = time_to_recover(facts)
        since = "the revert" if recovery_clock_start(facts) == facts.reverted_at and facts.held else "the injection"
        if recover is None:
            missed.append(
                f"not recovered (the breaker did not close again; promise: within {_dur(expect.recovered_within)})"
            )
        elif recover > limit:
            missed.append(
                f"recovered {seconds(recover)} after {since}, promise: within {_dur(expect.recovered_within)}"
            )
    if expect.max_level is not None and facts.max_level is not None and facts.max_level.rank > expect.max_level.rank:
        missed.append(f"level reached {facts.max_level.value}, promise: no worse than {expect.max_level.value}")
    if facts.steady_after is False:
        missed.append(_steady_after_sentence(experiment, facts))
    return missed


def _steady_after_sentence(experiment: Experiment, facts: RunFacts) -> str:
    score = "unknown" if facts.score_after is None else f"{facts.score_after:g}"
    when = f"{seconds(facts.settle_s)} after the fault ended" if facts.settle_s > 0 else "at the end of the window"
    return f"steady state not restored: score {score} < {experiment.steady_state.min_score:g} {when}"


def judge(experiment: Experiment, facts: RunFacts) -> Judgement:
    """The verdict and its reason (one sentence an operator can act on)."""
    if facts.interrupted:
        return Judgement("interrupted", facts.interrupted + _rollback_note(facts))
    if facts.refused:
        return Judgement("refused", facts.refused)
    if facts.aborted:
        return Judgement("aborted", facts.aborted + _rollback_note(facts))
    if facts.inject_error:
        return Judgement("failed", f"the fault could not be injected: {facts.inject_error}" + _rollback_note(facts))
    missed = promises_missed(experiment, facts)
    if missed:
        return Judgement("failed", "; ".join(missed) + _rollback_note(facts), tuple(missed))
    return Judgement("passed", _passed_sentence(experiment, facts))


def _rollback_note(facts: RunFacts) -> str:
    if facts.rolled_back is True:
        return "; rolled back"
    if facts.rolled_back is False:
        return f"; rollback failed: {facts.rollback_error or 'see the journal'}"
    return ""


def _passed_sentence(experiment: Experiment, facts: RunFacts) -> str:
    parts = []
    detect, recover = time_to_detect(facts), time_to_recover(facts)
    if detect is not None:
        parts.append(f"detected in {seconds(detect)}")
    else:
        parts.append("not detected (no promise)")
    if facts.dry_run:
        parts.append("recovery not judged (dry run)")
    elif recover is not None:
        parts.append(f"recovered in {seconds(recover)}")
    if facts.max_level is not None:
        parts.append(f"worst level {facts.max_level.value}")
    if facts.min_score is not None:
        parts.append(f"min score {facts.min_score:g}")
    if facts.steady_after:
        parts.append("steady state held again")
    return ", ".join(parts)


# --- advice -------------------------------------------------------------------------------------------


def recommendations(experiment: Experiment, facts: RunFacts, target: TargetFacts | None) -> list[str]:
    """Concrete advice for each promise missed (and for a fault nobody noticed), in config terms."""
    out: list[str] = []
    expect = experiment.expect
    if facts.refused:
        if facts.score_before is not None and facts.score_before < experiment.steady_state.min_score:
            out.append(
                f"the steady state did not hold before the start (score {facts.score_before:g} < "
                f"{experiment.steady_state.min_score:g}): fix what is unhealthy first "
                "(`healerd report current_system_status`)"
            )
        return out
    if facts.aborted:
        share = f" ({target.name} is {target.weight_share:.0%} of the score)" if target else ""
        out.append(
            f"the score fell below the safety floor {experiment.abort_below:g}{share}: the fault's "
            "blast radius is wider than the floor allows; add a fallback for the target or lower its weight"
        )
        return out
    if facts.interrupted or facts.inject_error:
        return out
    detect = time_to_detect(facts)
    if target is not None and expect.detected_within is not None:
        limit = expect.detected_within.total_seconds()
        floor = _detection_floor(target)
        if detect is not None and detect > limit:
            out.append(_slow_detection(detect, limit, target, floor))
        elif detect is None:
            out.append(_never_detected(experiment, target))
    elif detect is None and target is not None and not facts.aborted:
        out.append(
            f"the fault was never detected (the breaker of {target.name} stayed closed); if it should "
            "be, make the check able to see it" + _latency_hint(experiment, target)
        )
    recover = time_to_recover(facts)
    recovery_advised = False
    if target is not None and expect.recovered_within is not None and not facts.dry_run and detect is not None:
        limit = expect.recovered_within.total_seconds()
        if recover is None or recover > limit:
            out.append(_slow_recovery(recover, limit, target))
            recovery_advised = True
    if expect.max_level is not None and facts.max_level is not None and facts.max_level.rank > expect.max_level.rank:
        share = f"{target.name} weighs {target.weight_share:.0%} of the score; " if target else ""
        out.append(
            f"the level reached {facts.max_level.value} (min score {facts.min_score:g}), worse than the "
            f"promised {expect.max_level.value}: {share}add a fallback for it, lower its weight, or "
            "relax `expect.max_level`"
        )
    if facts.steady_after is False and not recovery_advised:  # else the recovery advice already says why
        out.append(
            f"the steady state did not come back within {seconds(facts.settle_s)} of the fault's end: "
            "see the healer's recovery_events for this window, and whether the rollback restores it"
        )
    return out


def _detection_floor(target: TargetFacts) -> float:
    """The earliest the breaker can open for a failure seen only by polling."""
    return target.every_s * target.consecutive_failures


def _slow_detection(detect: float, limit: float, target: TargetFacts, floor: float) -> str:
    text = (
        f"detection took {seconds(detect)}: the check interval is {seconds(target.every_s)} and the "
        f"breaker opens after {target.consecutive_failures} failure(s) in a row (about {seconds(floor)}); "
    )
    if target.check_kind == "process":
        return text + "lower `every` or `breaker.consecutive_failures`"
    return text + "lower `every` or `breaker.consecutive_failures`, or use a process check (a death is an event)"


def _never_detected(experiment: Experiment, target: TargetFacts) -> str:
    return (
        f"the fault was not detected within the window: the breaker of {target.name} stayed closed; "
        "check that its check can see this fault" + _latency_hint(experiment, target)
    )


def _latency_hint(experiment: Experiment, target: TargetFacts) -> str:
    fault = experiment.fault
    if fault.kind != "latency":
        return ""
    delay = fault.delay.total_seconds()
    if target.degraded_over_s is None and (target.timeout_s is None or delay < target.timeout_s):
        return (
            f" (a delay of {seconds(delay)} stays under the check's timeout and the check has no "
            "`degraded_over`, so slow answers count as healthy)"
        )
    return " (degraded results do not open a breaker; only failures do)"


def _slow_recovery(recover: float | None, limit: float, target: TargetFacts) -> str:
    floor = target.open_for_s + target.half_open_successes * min(target.every_s, target.fast_every_s)
    took = "recovery did not finish" if recover is None else f"recovery took {seconds(recover)}"
    text = (
        f"{took} (promise {seconds(limit)}): after it opens the breaker waits `open_for` "
        f"{seconds(target.open_for_s)} and then needs {target.half_open_successes} good probe(s), "
        f"about {seconds(floor)} at least; "
    )
    if not target.has_recovery:
        return text + f"{target.name} has no recovery ladder: add a `retry` step that restarts it"
    if floor > limit:
        return text + "lower `breaker.open_for` or `half_open_successes`, or relax `recovered_within`"
    return text + "see recovery_events for the step that failed or was slow"

"""decide(): one row per rule, each naming the decision and the words of its reason that explain it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from healer_kit import (
    T0,
    CloseIncident,
    Escalate,
    Failback,
    GlobalBudget,
    Nothing,
    OpenIncident,
    RunStep,
    Wait,
    call,
    checkpoint,
    comp,
    dep,
    escalate,
    fallback,
    opened,
    restore,
    retry,
    spend,
)

from daemon.engine.ladder import (
    ActiveFallback,
    InProgress,
    LadderState,
    PendingResolved,
    record_ack,
    record_escalation,
    request_recovery,
)
from daemon.engine.select import CandidateStats
from daemon.types import BreakerState, Status

OPEN, CLOSED, HALF, FORCED, DISABLED = (
    BreakerState.OPEN,
    BreakerState.CLOSED,
    BreakerState.HALF_OPEN,
    BreakerState.FORCED_OPEN,
    BreakerState.DISABLED,
)
H, D, U, UNK = Status.HEALTHY, Status.DEGRADED, Status.UNHEALTHY, Status.UNKNOWN
FULL = comp(retry(), restore(), fallback("app-standby"), escalate("ops"))
RETRY_SPENT = spend(opened(), FULL, 0, T0 - 300, T0 - 200, T0 - 100)
ALL_SPENT = spend(spend(RETRY_SPENT, FULL, 1, T0 - 90), FULL, 2, T0 - 80)
ESCALATED = record_escalation(ALL_SPENT, "initial", 3, ("ops",), T0 - 70, 1)
STANDBY_OK = {"app-standby": H}
FULL_OK = replace(FULL, status=H, error_class=None)  # the primary is back: what failback needs
ACTIVE = ActiveFallback(index=2, candidate="app-standby", since=T0 - 1000, incident_id=1)


def row(id: str, component: Any, ladder: LadderState, kind: type, reason: str = "", **kw: Any) -> Any:
    expect = {k[2:]: kw.pop(k) for k in list(kw) if k.startswith("e_")}
    return pytest.param(component, ladder, kw, kind, expect, reason, id=id)


ROWS = [
    # --- breaker gates and the incident's life ---
    row(
        "healthy-closed-component-gets-nothing",
        comp(retry(), status=H, error=None),
        LadderState(),
        Nothing,
        "nothing to heal",
        breaker=CLOSED,
    ),
    row("disabled-breaker-gets-nothing", comp(retry()), LadderState(), Nothing, "disabled", breaker=DISABLED),
    row(
        "closed-breaker-closes-the-open-incident",
        FULL,
        opened(),
        CloseIncident,
        "incident 1 closes",
        breaker=CLOSED,
        e_incident_id=1,
    ),
    row("forced-open-is-left-to-the-operator", FULL, opened(), Nothing, "forced open", breaker=FORCED),
    row(
        "open-breaker-without-incident-opens-one",
        FULL,
        LadderState(),
        OpenIncident,
        "breaker open",
        e_trigger="breaker",
    ),
    row("half-open-without-incident-opens-one", FULL, LadderState(), OpenIncident, "half_open", breaker=HALF),
    row(
        "operator-request-on-closed-breaker-opens-incident",
        comp(retry(), status=H, error=None),
        request_recovery(LadderState(), T0 - 1),
        OpenIncident,
        "operator",
        breaker=CLOSED,
        e_trigger="operator",
    ),
    row(
        "operator-request-goes-past-forced-open",
        FULL,
        request_recovery(LadderState(), T0 - 1),
        OpenIncident,
        breaker=FORCED,
        e_trigger="operator",
    ),
    row(
        "stale-operator-request-is-ignored",
        comp(retry(), status=H, error=None),
        request_recovery(LadderState(), T0 - 601),
        Nothing,
        breaker=CLOSED,
    ),
    row(
        "step-in-progress-means-wait",
        FULL,
        replace(opened(), in_progress=InProgress(0, "retry", T0 - 3)),
        Wait,
        "retry (step 1) in progress since 3.0s",
        e_until=None,
    ),
    row(
        "in-progress-wins-even-over-a-closed-breaker",
        FULL,
        replace(opened(), in_progress=InProgress(0, "retry", T0 - 3)),
        Wait,
        "in progress",
        breaker=CLOSED,
    ),
    row(
        "owed-resolved-message-is-sent",
        FULL,
        replace(LadderState(), resolved_pending=(PendingResolved(9, 3, ("ops",), T0 - 1),)),
        Escalate,
        "incident 9 closed",
        breaker=CLOSED,
        e_kind="resolved",
        e_incident_id=9,
        e_channels=("ops",),
    ),
    row(
        "resolved-message-waits-for-the-step-in-progress",
        FULL,
        replace(
            LadderState(),
            resolved_pending=(PendingResolved(9, 3, ("ops",), T0 - 1),),
            in_progress=InProgress(0, "retry", T0),
        ),
        Wait,
        "in progress",
    ),
    # --- holds ---
    row("half-open-breaker-probes-decide", FULL, opened(), Wait, "half-open", breaker=HALF, e_until=None),
    row(
        "latest-check-healthy-waits-for-the-breaker",
        comp(retry(), status=H, error=None),
        opened(),
        Wait,
        "latest check healthy",
    ),
    row(
        "latest-check-degraded-is-not-restarted",
        comp(retry(), status=D, error=None),
        opened(),
        Wait,
        "latest check degraded",
    ),
    row(
        "cooldown-after-success-waits",
        FULL,
        replace(opened(), last_success_at=T0 - 20),
        Wait,
        "cooldown",
        e_until=T0 + 40,
    ),
    row("cooldown-over-acts-again", FULL, replace(opened(), last_success_at=T0 - 61), RunStep, e_index=0),
    row(
        "operator-request-skips-the-cooldown",
        FULL,
        request_recovery(replace(opened(), last_success_at=T0 - 20), T0),
        RunStep,
        "operator request",
        e_index=0,
    ),
    # --- root cause first ---
    row(
        "sick-dependency-means-waiting-on-it",
        comp(retry(), depends_on=("db",)),
        opened(),
        Wait,
        "waiting on db",
        deps={"db": dep("db", U, OPEN)},
        e_waiting_on="db",
    ),
    row(
        "dependency-root-cause-is-reported-through-a-chain",
        comp(retry(), depends_on=("api",)),
        opened(),
        Wait,
        "waiting on db (api also sick)",
        deps={"api": dep("api", U, OPEN, ("db",)), "db": dep("db", U, OPEN)},
        e_waiting_on="db",
    ),
    row(
        "sick-transitive-dependency-behind-a-healthy-one",
        comp(retry(), depends_on=("api",)),
        opened(),
        Wait,
        "waiting on db",
        deps={"api": dep("api", depends_on=("db",)), "db": dep("db", UNK, CLOSED)},
        e_waiting_on="db",
    ),
    row(
        "half-open-dependency-is-still-sick",
        comp(retry(), depends_on=("db",)),
        opened(),
        Wait,
        "waiting on db",
        deps={"db": dep("db", H, HALF)},
    ),
    row(
        "degraded-dependency-does-not-block",
        comp(retry(), depends_on=("db",)),
        opened(),
        RunStep,
        deps={"db": dep("db", D, CLOSED)},
    ),
    row("unknown-dependency-name-does-not-block", comp(retry(), depends_on=("gone",)), opened(), RunStep),
    row(
        "dependency-wait-beats-an-operator-request",
        comp(retry(), depends_on=("db",)),
        request_recovery(opened(), T0),
        Wait,
        "waiting on db",
        deps={"db": dep("db", U, OPEN)},
    ),
    row(
        "dependency-wait-suppresses-reminders",
        comp(retry(), escalate(repeat_every="1m"), depends_on=("db",)),
        record_escalation(opened(), "initial", 1, ("ops",), T0 - 3600, 1),
        Wait,
        "waiting on db",
        deps={"db": dep("db", U, OPEN)},
    ),
    # --- the walk ---
    row(
        "retry-first",
        FULL,
        opened(),
        RunStep,
        "retry → attempt 1/3 in 10m",
        e_index=0,
        e_strategy="retry",
        e_attempt=1,
        e_incident_id=1,
    ),
    row(
        "retry-waits-its-backoff",
        FULL,
        spend(opened(), FULL, 0, T0 - 1.5),
        Wait,
        "retry 1/3 used; next attempt in 0.5s (backoff)",
        e_until=T0 - 0.5 + 1,
    ),
    row(
        "retry-after-backoff-is-attempt-2", FULL, spend(opened(), FULL, 0, T0 - 3), RunStep, "attempt 2/3", e_attempt=2
    ),
    row(
        "operator-request-skips-the-backoff",
        FULL,
        request_recovery(spend(opened(), FULL, 0, T0 - 1.5), T0),
        RunStep,
        e_index=0,
    ),
    row(
        "old-attempts-leave-the-window",
        FULL,
        spend(opened(), FULL, 0, T0 - 700, T0 - 650, T0 - 100),
        RunStep,
        "attempt 2/3",
        e_index=0,
    ),
    row(
        "restore-after-retry-spent",
        FULL,
        RETRY_SPENT,
        RunStep,
        "retry 3/3 used in 10m; restore cp (taken 10m ago)",
        checkpoints={"cp": checkpoint()},
        e_index=1,
        e_checkpoint_id=7,
    ),
    row(
        "issue-example-reason",
        FULL,
        RETRY_SPENT,
        RunStep,
        "retry 3/3 used in 10m; restore: no checkpoint; fallback → app-standby (healthy, sequential)",
        health=STANDBY_OK,
        e_index=2,
        e_candidate="app-standby",
    ),
    row(
        "unverified-checkpoint-is-passed-over",
        FULL,
        RETRY_SPENT,
        RunStep,
        "restore: checkpoint cp not verified",
        checkpoints={"cp": checkpoint(verified=False)},
        health=STANDBY_OK,
        e_index=2,
    ),
    row(
        "fallback-skips-sick-candidates",
        comp(fallback("a", "b", "c")),
        opened(),
        RunStep,
        "b (healthy, sequential; passed over a unhealthy)",
        health={"a": U, "b": H, "c": H},
        e_candidate="b",
        e_candidates=("b", "c"),
    ),
    row(
        "fallback-candidate-with-open-breaker-is-sick",
        comp(fallback("a", "b")),
        opened(),
        RunStep,
        deps={"a": dep("a", H, OPEN)},
        health={"a": H, "b": H},
        e_candidate="b",
    ),
    row(
        "fallback-never-picks-the-component-itself",
        comp(fallback("app", "b")),
        opened(),
        RunStep,
        health={"app": H, "b": H},
        e_candidate="b",
    ),
    row(
        "fallback-passes-over-a-candidate-that-failed-this-incident",
        comp(fallback("a", "b", attempts=2)),
        replace(opened(), incident=replace(opened().incident, failed_candidates=("a",))),
        RunStep,
        health={"a": H, "b": H},
        e_candidate="b",
    ),
    row(
        "fallback-retries-a-failed-candidate-when-none-else",
        comp(fallback("a", "b", attempts=2)),
        replace(opened(), incident=replace(opened().incident, failed_candidates=("a",))),
        RunStep,
        "every healthy one failed before",
        health={"a": H, "b": U},
        e_candidate="a",
    ),
    row(
        "fallback-weighted-picks-the-best-score",
        comp(fallback("a", "b", select="weighted")),
        opened(),
        RunStep,
        "b 0.95, a 0.40",
        health={"a": H, "b": H},
        stats={"a": CandidateStats(0.8, 1000), "b": CandidateStats(1.0, 50)},
        e_candidate="b",
    ),
    row(
        "fallback-weighted-without-stats-is-half-score",
        comp(fallback("a", "b", select="weighted")),
        opened(),
        RunStep,
        health={"a": H, "b": H},
        stats={"b": CandidateStats(0.9, 0)},
        e_candidate="b",
    ),
    row(
        "fallback-fastest-leaves-the-choice-to-the-probe",
        comp(fallback("a", "b", "c", select="fastest")),
        opened(),
        RunStep,
        "fastest of a, c",
        health={"a": H, "b": U, "c": H},
        e_candidate=None,
        e_candidates=("a", "c"),
    ),
    row(
        "no-healthy-candidate-falls-through-to-escalate",
        FULL,
        RETRY_SPENT,
        Escalate,
        "retry 3/3 used in 10m; restore: no checkpoint; fallback: no healthy candidate (app-standby unhealthy); escalate → ops",
        health={"app-standby": U},
        e_kind="initial",
        e_index=3,
        e_channels=("ops",),
    ),
    row(
        "when-limits-a-step-to-error-classes",
        comp(retry(when=["not_running"]), retry(attempts=1)),
        opened(),
        RunStep,
        "retry: only for not_running (error is refused)",
        e_index=1,
    ),
    row(
        "when-on-escalate-limits-who-is-paged",
        comp(escalate("pager", when=["corrupt"]), escalate("ops")),
        opened(),
        Escalate,
        "escalate: only for corrupt",
        e_channels=("ops",),
    ),
    row(
        "every-step-spent-escalates",
        FULL,
        ALL_SPENT,
        Escalate,
        "fallback 1/1 used in 1h; escalate → ops",
        health=STANDBY_OK,
        e_kind="initial",
    ),
    row(
        "escalated-once-then-waits-for-budget-or-reminder",
        FULL,
        ESCALATED,
        Wait,
        "restore 1/1 used in 1h; fallback 1/1 used in 1h; escalated 1m ago → ops; a budget frees up in 5m",
        health=STANDBY_OK,
        e_until=T0 - 300 + 600,
    ),
    row(
        "reminder-when-repeat-every-passed",
        comp(retry(attempts=1), escalate(repeat_every="10m")),
        record_escalation(spend(opened(), comp(retry(attempts=1)), 0, T0 - 30), "initial", 1, ("ops",), T0 - 600, 1),
        Escalate,
        "reminder 1 → ops (every 10m, not acked)",
        e_kind="reminder",
    ),
    row(
        "reminder-not-before-repeat-every",
        comp(retry(attempts=1, within="1h"), escalate(repeat_every="10m")),
        record_escalation(spend(opened(), comp(retry(attempts=1)), 0, T0 - 30), "initial", 1, ("ops",), T0 - 599, 1),
        Wait,
        e_until=T0 + 1,
    ),
    row(
        "acked-incident-gets-no-reminder",
        comp(retry(attempts=1, within="1h"), escalate(repeat_every="10m")),
        record_ack(
            record_escalation(
                spend(opened(), comp(retry(attempts=1)), 0, T0 - 30), "initial", 1, ("ops",), T0 - 3600, 1
            ),
            T0 - 1,
        ),
        Wait,
        e_until=T0 - 30 + 3600,
    ),
    row(
        "no-repeat-every-means-no-reminder",
        comp(escalate(repeat_every=None)),
        record_escalation(opened(), "initial", 0, ("ops",), T0 - 99999, 1),
        Nothing,
        "escalated",
    ),
    row(
        "reminder-goes-out-during-a-hold",
        comp(retry(), escalate(repeat_every="10m")),
        record_escalation(opened(), "initial", 1, ("ops",), T0 - 600, 1),
        Escalate,
        "half-open",
        breaker=HALF,
        e_kind="reminder",
    ),
    row(
        "no-escalate-step-waits-for-the-budget",
        comp(retry(attempts=1, within="10m")),
        spend(opened(), comp(retry(attempts=1)), 0, T0 - 60),
        Wait,
        "no escalate step; a budget frees up in 9m",
        e_until=T0 + 540,
    ),
    row("no-ladder-does-nothing", comp(), opened(), Nothing, "no recovery ladder configured"),
    row(
        "escalate-mid-ladder-then-the-walk-goes-on",
        comp(retry(attempts=1), escalate("ops"), fallback("b")),
        record_escalation(spend(opened(), comp(retry(attempts=1)), 0, T0 - 60), "initial", 1, ("ops",), T0 - 50, 1),
        RunStep,
        "escalated 50s ago → ops; fallback → b",
        health={"b": H},
        e_index=2,
    ),
    # --- global limit ---
    row(
        "global-limit-holds-a-step",
        FULL,
        opened(),
        Wait,
        "global limit: 4/4 recoveries running; next: retry",
        budget=GlobalBudget(4, 4),
        e_until=None,
    ),
    row(
        "global-limit-never-holds-an-escalation", FULL, ALL_SPENT, Escalate, budget=GlobalBudget(9, 4), e_kind="initial"
    ),
    row(
        "global-limit-still-lets-a-reminder-out",
        comp(retry(), escalate(repeat_every="10m")),
        record_escalation(opened(), "initial", 1, ("ops",), T0 - 600, 1),
        Escalate,
        "global limit",
        budget=GlobalBudget(4, 4),
        e_kind="reminder",
    ),
    # --- fallback active and failback ---
    row(
        "active-healthy-fallback-holds-the-ladder",
        FULL,
        replace(opened(), fallback=ACTIVE),
        Wait,
        "fallback → app-standby active since 17m ago; fails back once the primary is healthy for 2m",
        health=STANDBY_OK,
    ),
    row(
        "active-fallback-turned-sick-picks-another",
        comp(fallback("app-standby", "b", attempts=2)),
        replace(opened(), fallback=replace(ACTIVE, index=0)),
        RunStep,
        "app-standby active, now sick",
        health={"app-standby": U, "b": H},
        e_candidate="b",
    ),
    row(
        "failback-waits-for-failback-after",
        FULL_OK,
        replace(LadderState(), fallback=ACTIVE, healthy_since=T0 - 60),
        Wait,
        "primary healthy 1m, fails back after 2m",
        breaker=CLOSED,
        health=STANDBY_OK,
        e_until=T0 + 60,
    ),
    row(
        "failback-after-primary-healthy-long-enough",
        FULL_OK,
        replace(LadderState(), fallback=ACTIVE, healthy_since=T0 - 120),
        Failback,
        "primary healthy for 2m (≥ 2m)",
        breaker=CLOSED,
        health=STANDBY_OK,
        e_candidate="app-standby",
        e_index=2,
        e_incident_id=1,
    ),
    row(
        "failback-at-once-when-the-standby-is-sick",
        FULL_OK,
        replace(LadderState(), fallback=ACTIVE, healthy_since=T0 - 5),
        Failback,
        "app-standby is sick and the primary is healthy",
        breaker=CLOSED,
        health={"app-standby": U},
    ),
    row(
        "failback-needs-a-healthy-primary",
        comp(fallback(), status=U),
        replace(LadderState(), fallback=ACTIVE),
        Wait,
        "primary not healthy yet",
        breaker=CLOSED,
        health=STANDBY_OK,
    ),
    row(
        "failed-failback-is-spaced-by-failback-after",
        FULL_OK,
        replace(LadderState(), fallback=replace(ACTIVE, failback_failed_at=T0 - 30), healthy_since=T0 - 500),
        Wait,
        breaker=CLOSED,
        health=STANDBY_OK,
        e_until=T0 + 90,
    ),
    row(
        "failback-waits-on-a-sick-dependency",
        comp(fallback(), status=H, error=None, depends_on=("db",)),
        replace(LadderState(), fallback=ACTIVE, healthy_since=T0 - 500),
        Wait,
        "failback from app-standby held: waiting on db",
        breaker=CLOSED,
        deps={"db": dep("db", U, OPEN)},
        health=STANDBY_OK,
        e_waiting_on="db",
    ),
    row(
        "failback-respects-the-global-limit",
        FULL_OK,
        replace(LadderState(), fallback=ACTIVE, healthy_since=T0 - 500),
        Wait,
        "global limit",
        breaker=CLOSED,
        budget=GlobalBudget(4, 4),
        health=STANDBY_OK,
    ),
]


@pytest.mark.parametrize("component, ladder, kw, kind, expect, reason", ROWS)
def test_decision(
    component: Any, ladder: LadderState, kw: dict[str, Any], kind: type, expect: dict[str, Any], reason: str
) -> None:
    decision = call(component, ladder, **kw)
    assert isinstance(decision, kind), decision
    assert reason in decision.reason, decision.reason
    for name, value in expect.items():
        assert getattr(decision, name) == value, (name, decision)
    assert decision == call(component, ladder, **kw), "same inputs, same decision"


def test_random_fallback_is_seeded_by_incident_and_attempt() -> None:
    """Replaying a decision gives the same pick; different incidents spread over the candidates."""
    component = comp(fallback("a", "b", "c", "d", select="random"))
    health = dict.fromkeys("abcd", H)
    picks = {call(component, opened(incident_id=i), health=health).candidate for i in range(1, 40)}
    assert picks == {"a", "b", "c", "d"}
    first = call(component, opened(incident_id=5), health={**health, "b": U})
    assert first.candidate != "b" and first == call(component, opened(incident_id=5), health={**health, "b": U})


def test_a_restart_mid_backoff_does_not_retry_at_once() -> None:
    ladder = spend(opened(), FULL, 0, T0 - 1.5)  # failed at T0 - 0.5, jitter none → next at T0 + 0.5
    restored = LadderState.from_json(ladder.to_json())
    assert restored == ladder
    assert isinstance(call(FULL, restored, now=T0), Wait)
    assert isinstance(call(FULL, restored, now=T0 + 0.5), RunStep)

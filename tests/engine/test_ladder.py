"""The ladder reducers: budget counting, the persisted backoff wait, interrupted steps, JSON round trips."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
from healer_kit import T0, fallback, opened, retry

from daemon.engine.ladder import (
    FAILBACK,
    ActiveFallback,
    LadderState,
    Outcome,
    PendingResolved,
    note_waiting,
    observe_health,
    on_breaker_closed,
    open_incident,
    record_ack,
    record_escalation,
    record_finished,
    record_started,
    request_recovery,
    step_key,
)
from daemon.types import BreakerState, Status

RNG = random.Random(0)
RETRY = retry(attempts=3, jitter="none", initial="1s", max="30s")


def fail_retry(ladder: LadderState, at: float, outcome: Outcome = Outcome.FAILED) -> LadderState:
    return record_finished(record_started(ladder, 0, "retry", at), RETRY, outcome, at + 1, RNG)


def test_an_attempt_counts_when_it_starts_before_anything_runs() -> None:
    ladder = record_started(opened(), 0, "retry", T0)
    assert ladder.step(0, "retry").attempts == (T0,)
    assert ladder.in_progress is not None and ladder.in_progress.started_at == T0


def test_a_second_start_while_one_is_in_progress_is_refused() -> None:
    with pytest.raises(ValueError, match="still in progress"):
        record_started(record_started(opened(), 0, "retry", T0), 1, "restore", T0)


def test_finishing_without_a_start_is_refused() -> None:
    with pytest.raises(ValueError, match="no step is in progress"):
        record_finished(opened(), RETRY, Outcome.FAILED, T0, RNG)


def test_failures_set_the_exponential_backoff_wait_from_the_finish() -> None:
    ladder = opened()
    waits = []
    for i in range(4):
        ladder = fail_retry(ladder, T0 + 100 * i)
        rec = ladder.step(0, "retry")
        waits.append(rec.next_at - (T0 + 100 * i + 1))
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert ladder.step(0, "retry").failures == 4


def test_success_clears_the_backoff_and_starts_the_cooldown() -> None:
    ladder = fail_retry(fail_retry(opened(), T0), T0 + 10)
    ladder = record_finished(record_started(ladder, 0, "retry", T0 + 20), RETRY, Outcome.SUCCEEDED, T0 + 25, RNG)
    rec = ladder.step(0, "retry")
    assert (rec.failures, rec.next_at, rec.prev_delay) == (0, None, None)
    assert ladder.last_success_at == T0 + 25
    assert len(rec.attempts) == 3, "a success still spent budget"


def test_an_interrupted_attempt_counts_once_and_still_backs_off() -> None:
    """kill -9 mid-action: the persisted start is all that is left; the restart finishes it as interrupted."""
    started = record_started(opened(), 0, "retry", T0)
    after_crash = LadderState.from_json(started.to_json())
    ladder = record_finished(after_crash, RETRY, Outcome.INTERRUPTED, T0 + 30, RNG)
    rec = ladder.step(0, "retry")
    assert rec.attempts == (T0,)
    assert rec.next_at == T0 + 31
    assert ladder.in_progress is None


def test_only_the_newest_attempts_are_kept() -> None:
    ladder = opened()
    for i in range(6):
        ladder = fail_retry(ladder, T0 + i)
    assert ladder.step(0, "retry").attempts == (T0 + 3, T0 + 4, T0 + 5)


def test_step_records_are_keyed_by_position_and_strategy() -> None:
    ladder = fail_retry(opened(), T0)
    assert step_key(0, "retry") in ladder.steps
    assert ladder.step(0, "restore").attempts == (), "a reload that swaps the step does not inherit its budget"


def test_fallback_success_records_the_active_candidate() -> None:
    step = fallback("a", "b")
    ladder = record_finished(record_started(opened(), 2, "fallback", T0, "b"), step, Outcome.SUCCEEDED, T0 + 5, RNG)
    assert ladder.fallback == ActiveFallback(index=2, candidate="b", since=T0 + 5, incident_id=1)


def test_fastest_fallback_records_the_winner_the_actor_reports() -> None:
    step = fallback("a", "b", select="fastest")
    ladder = record_finished(
        record_started(opened(), 0, "fallback", T0), step, Outcome.SUCCEEDED, T0 + 5, RNG, candidate="a"
    )
    assert ladder.fallback is not None and ladder.fallback.candidate == "a"


def test_a_failed_candidate_is_remembered_for_the_incident() -> None:
    step = fallback("a", "b", attempts=2)
    ladder = record_finished(record_started(opened(), 0, "fallback", T0, "a"), step, Outcome.FAILED, T0 + 5, RNG)
    assert ladder.incident is not None and ladder.incident.failed_candidates == ("a",)
    assert ladder.fallback is None
    assert ladder.step(0, "fallback").next_at is None, "no backoff outside retry steps"


def test_failback_success_clears_the_fallback_and_failure_spaces_the_next_try() -> None:
    base = replace(LadderState(), fallback=ActiveFallback(0, "b", T0 - 500, 1))
    started = record_started(base, 0, FAILBACK, T0, "b")
    assert started.steps == {}, "a failback spends no ladder budget"
    assert record_finished(started, fallback("b"), Outcome.SUCCEEDED, T0 + 1, RNG).fallback is None
    failed = record_finished(started, fallback("b"), Outcome.FAILED, T0 + 1, RNG)
    assert failed.fallback is not None and failed.fallback.failback_failed_at == T0 + 1


def test_escalations_initial_reminder_and_resolved() -> None:
    ladder = record_escalation(opened(), "initial", 3, ("ops", "pager"), T0, 1)
    ladder = record_escalation(ladder, "reminder", 3, ("ops", "pager"), T0 + 3600, 1)
    esc = ladder.incident.escalation
    assert (esc.first_at, esc.last_at, esc.reminders, esc.channels) == (T0, T0 + 3600, 1, ("ops", "pager"))
    closed = on_breaker_closed(ladder, T0 + 4000)
    assert closed.incident is None
    assert closed.resolved_pending == (PendingResolved(1, 3, ("ops", "pager"), T0 + 4000),)
    assert record_escalation(closed, "resolved", 3, ("ops",), T0 + 4001, 1).resolved_pending == ()


def test_escalation_for_another_incident_is_ignored() -> None:
    ladder = opened(incident_id=2)
    assert record_escalation(ladder, "initial", 0, ("ops",), T0, 1) == ladder


def test_an_incident_never_escalated_owes_no_resolved_message() -> None:
    assert on_breaker_closed(opened(), T0).resolved_pending == ()


def test_opening_a_second_incident_is_refused() -> None:
    with pytest.raises(ValueError, match="still open"):
        open_incident(opened(), 2, "breaker", T0)


def test_operator_request_is_consumed_by_the_next_start() -> None:
    ladder = request_recovery(opened(), T0)
    assert ladder.operator_requested_at == T0
    assert record_started(ladder, 0, "retry", T0 + 1).operator_requested_at is None


def test_ack_and_waiting_on_are_recorded_on_the_incident() -> None:
    ladder = note_waiting(record_ack(opened(), T0), "db")
    assert (ladder.incident.acked_at, ladder.incident.waiting_on) == (T0, "db")
    assert record_ack(LadderState(), T0) == LadderState()


@pytest.mark.parametrize(
    "status, breaker, healthy",
    [
        (Status.HEALTHY, BreakerState.CLOSED, True),
        (Status.HEALTHY, BreakerState.DISABLED, True),
        (Status.HEALTHY, BreakerState.HALF_OPEN, False),
        (Status.DEGRADED, BreakerState.CLOSED, False),
        (Status.UNKNOWN, BreakerState.CLOSED, False),
    ],
)
def test_healthy_since_needs_a_passing_check_and_a_closed_breaker(
    status: Status, breaker: BreakerState, healthy: bool
) -> None:
    ladder = observe_health(LadderState(), status, breaker, T0, 1800)
    assert (ladder.healthy_since == T0) is healthy


def test_budgets_reset_after_a_healthy_spell_and_not_before() -> None:
    ladder = fail_retry(opened(), T0)
    ladder = observe_health(ladder, Status.HEALTHY, BreakerState.CLOSED, T0 + 10, 1800)
    ladder = observe_health(ladder, Status.HEALTHY, BreakerState.CLOSED, T0 + 1809, 1800)
    assert ladder.steps, "1799 s healthy is not enough"
    ladder = observe_health(ladder, Status.HEALTHY, BreakerState.CLOSED, T0 + 1810, 1800)
    assert ladder.steps == {}
    assert ladder.healthy_since == T0 + 10


def test_one_failure_restarts_the_healthy_spell() -> None:
    ladder = fail_retry(opened(), T0)
    ladder = observe_health(ladder, Status.HEALTHY, BreakerState.CLOSED, T0 + 10, 1800)
    ladder = observe_health(ladder, Status.UNHEALTHY, BreakerState.CLOSED, T0 + 1000, 1800)
    ladder = observe_health(ladder, Status.HEALTHY, BreakerState.CLOSED, T0 + 1010, 1800)
    ladder = observe_health(ladder, Status.HEALTHY, BreakerState.CLOSED, T0 + 1900, 1800)
    assert ladder.steps and ladder.healthy_since == T0 + 1010


def test_a_rich_state_survives_the_json_round_trip() -> None:
    ladder = fail_retry(opened(incident_id="inc-7"), T0)
    ladder = record_escalation(ladder, "initial", 3, ("ops",), T0 + 5, "inc-7")
    ladder = note_waiting(record_ack(ladder, T0 + 6), "db")
    ladder = replace(
        ladder,
        fallback=ActiveFallback(2, "b", T0, "inc-7", failback_failed_at=T0 + 1),
        resolved_pending=(PendingResolved(3, 3, ("ops",), T0 - 5),),
        healthy_since=T0 - 9,
        last_success_at=T0 - 8,
        operator_requested_at=T0 - 7,
    )
    ladder = replace(ladder, incident=replace(ladder.incident, failed_candidates=("a",)))
    ladder = record_started(ladder, 1, "restore", T0 + 7)
    text = ladder.to_json()
    assert LadderState.from_json(text) == ladder
    assert LadderState.from_json(text).to_json() == text


def test_an_empty_column_is_a_fresh_ladder_and_a_future_version_is_refused() -> None:
    assert LadderState.from_json(None) == LadderState()
    assert LadderState.from_json("") == LadderState()
    data = json.loads(LadderState().to_json())
    data["version"] = 99
    with pytest.raises(ValueError, match="version 99"):
        LadderState.from_json(json.dumps(data))

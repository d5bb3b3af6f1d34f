"""Issue 10, pure parts: the restart backoff across incidents, the cooldown floor, and a dependency's
recovery waking its dependents (re-check first, then the backoff wait is cut)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from healer_kit import T0, RunStep, Wait, call, comp, dep, retry, spend

from daemon.config.models import Backoff, DaemonSettings
from daemon.engine.ladder import (
    LadderState,
    Outcome,
    observe_health,
    on_breaker_closed,
    open_incident,
    record_finished,
    record_started,
)
from daemon.policies.backoff import restart_delay
from daemon.types import BreakerState, Status

OPEN, CLOSED = BreakerState.OPEN, BreakerState.CLOSED
H, U = Status.HEALTHY, Status.UNHEALTHY
CURVE = Backoff(initial="1s", max="30s", multiplier=2.0, jitter="full")


@pytest.mark.parametrize(
    "repeat, cap, expected",
    [
        (0, 300, 0.0),  # the first incident acts at once
        (1, 300, 0.0),  # the first repeat acts at once (a service killed twice is restarted twice)
        (2, 300, 1.0),  # then the step's own curve: initial ...
        (3, 300, 2.0),
        (4, 300, 4.0),
        (6, 300, 16.0),
        (7, 300, 30.0),  # ... capped by the step's own max ...
        (50, 300, 30.0),
        (5, 5, 5.0),  # ... and by the daemon-wide cap
    ],
)
def test_restart_delay_follows_the_steps_curve_without_jitter(repeat: int, cap: float, expected: float) -> None:
    assert restart_delay(repeat, CURVE, cap) == expected


def test_defaults_make_the_cooldown_a_floor_that_is_off_and_cap_the_backoff_at_5m_reset_after_10m() -> None:
    settings = DaemonSettings()
    assert settings.cooldown.total_seconds() == 0
    assert settings.restart_backoff_max.total_seconds() == 300
    assert settings.restart_backoff_reset.total_seconds() == 600
    assert DaemonSettings.model_validate({"cooldown": "0s"}).cooldown.total_seconds() == 0


def incidents(n: int, at: float = T0) -> LadderState:
    """A ladder that has opened `n` incidents in a row (each healed, closed) and opens the next at `at`."""
    state = LadderState()
    for i in range(n):
        state = open_incident(state, i + 1, "breaker", at - 100 + i)
        state = on_breaker_closed(state, at - 99 + i)
    return open_incident(state, n + 1, "breaker", at)


def test_open_incident_counts_repeats_and_a_long_healthy_spell_resets_them() -> None:
    state = incidents(3)
    assert (state.incident.repeat, state.repeats) == (3, 4)
    state = on_breaker_closed(state, T0 + 1)
    state = observe_health(state, H, CLOSED, T0 + 2, 1800, 600)
    state = observe_health(state, H, CLOSED, T0 + 601, 1800, 600)
    assert state.repeats == 4  # healthy 599 s: not yet
    state = observe_health(state, H, CLOSED, T0 + 602, 1800, 600)
    assert state.repeats == 0
    assert LadderState.from_json(incidents(2).to_json()) == incidents(2)


def test_a_failure_breaks_the_healthy_spell_that_resets_the_repeats() -> None:
    state = on_breaker_closed(incidents(2), T0 + 1)
    state = observe_health(state, H, CLOSED, T0 + 2, 1800, 600)
    state = observe_health(state, U, CLOSED, T0 + 500, 1800, 600)
    state = observe_health(state, H, CLOSED, T0 + 501, 1800, 600)
    state = observe_health(state, H, CLOSED, T0 + 700, 1800, 600)
    assert state.repeats == 3


APP = comp(retry(attempts=10, initial="1s", max="30s"), cooldown=0.0)


@pytest.mark.parametrize(
    "repeats_before, now, kind, reason, until",
    [
        (0, T0, RunStep, "attempt 1/10", None),
        (1, T0, RunStep, "attempt 1/10", None),
        (
            2,
            T0,
            Wait,
            "restart backoff: incident 3 in a row without a long healthy spell; its first action waits 1s after it opened: 1.0s from now",
            T0 + 1,
        ),
        (2, T0 + 1, RunStep, "attempt 1/10", None),
        (4, T0 + 3, Wait, "waits 4s", T0 + 4),
        (30, T0, Wait, "waits 30s", T0 + 30),
    ],
)
def test_the_first_action_of_a_repeated_incident_waits_its_restart_backoff(
    repeats_before, now, kind, reason, until
) -> None:
    decision = call(APP, incidents(repeats_before), now=now)
    assert isinstance(decision, kind), decision
    assert reason in decision.reason
    if until is not None:
        assert decision.until == until


def test_the_daemon_cap_bounds_the_restart_backoff_and_says_so() -> None:
    capped = replace(APP, restart_backoff_max=5.0)
    decision = call(capped, incidents(30))
    assert isinstance(decision, Wait) and decision.until == T0 + 5 and "waits 5s (the cap)" in decision.reason


def test_only_the_first_action_of_an_incident_waits_the_restart_backoff() -> None:
    state = incidents(5)
    state = record_started(state, 0, "retry", T0 + 8)
    state = record_finished(state, APP.recovery[0], Outcome.FAILED, T0 + 9, random.Random(0))
    # the step's own backoff (≤ 1 s for attempt 2, full jitter) governs from here, not the 8 s restart wait
    decision = call(APP, state, now=T0 + 10)
    assert isinstance(decision, RunStep) and decision.attempt == 2


def test_an_operator_request_skips_the_restart_backoff() -> None:
    from daemon.engine.ladder import request_recovery

    decision = call(APP, request_recovery(incidents(6), T0), now=T0)
    assert isinstance(decision, RunStep) and "operator request" in decision.reason


@pytest.mark.parametrize(
    "cooldown, last_success, repeats_before, until, words",
    [
        (60.0, T0 - 20, 0, T0 + 40, "cooldown after the recovery 20s ago"),
        (60.0, T0 - 61, 0, None, None),
        (0.0, T0 - 1, 0, None, None),  # "0s": no floor at all
        (60.0, T0 - 59, 5, T0 + 8, "restart backoff"),  # the later of the two wins
        (60.0, T0 - 20, 3, T0 + 40, "cooldown"),
    ],
)
def test_the_cooldown_is_a_floor_under_the_restart_backoff(
    cooldown, last_success, repeats_before, until, words
) -> None:
    state = replace(incidents(repeats_before), last_success_at=last_success)
    decision = call(replace(APP, cooldown=cooldown), state)
    if until is None:
        assert isinstance(decision, RunStep), decision
    else:
        assert isinstance(decision, Wait) and decision.until == until and words in decision.reason, decision


# --- a dependency's recovery wakes its dependents (KEP-4603's "late recovery") -------------------------

DEPENDENT = comp(retry(attempts=10, initial="20s", max="1m", jitter="none"), depends_on=("db",), cooldown=0.0)


def waited(state: LadderState) -> LadderState:
    from daemon.engine.ladder import note_waiting

    return note_waiting(state, "db")


def test_a_dependent_checked_before_its_dependency_recovered_is_checked_again_first() -> None:
    state = waited(open_incident(LadderState(), 1, "breaker", T0 - 30))
    stale = replace(DEPENDENT, checked_at=T0 - 2)
    decision = call(stale, state, deps={"db": replace(dep("db", H, CLOSED), since=T0 - 1)})
    assert isinstance(decision, Wait) and decision.until is None
    assert "db recovered 1.0s ago: app is checked again before any action" in decision.reason


def test_after_the_fresh_check_the_dependents_backoff_wait_is_cut() -> None:
    state = waited(spend(open_incident(LadderState(), 1, "breaker", T0 - 30), DEPENDENT, 0, T0 - 10))
    assert state.step(0, "retry").next_at == T0 + 11  # 20 s backoff after the failure at T0 - 9
    fresh = replace(DEPENDENT, checked_at=T0 - 0.5)
    db = replace(dep("db", H, CLOSED), since=T0 - 1)
    decision = call(fresh, state, deps={"db": db})
    assert isinstance(decision, RunStep) and "backoff of 11s cut: db recovered" in decision.reason
    # without the recovery the same state waits out its backoff
    assert isinstance(
        call(fresh, replace(state, incident=replace(state.incident, waiting_on=None)), deps={"db": db}), Wait
    )


def test_a_sick_dependency_still_means_waiting_on_it() -> None:
    state = waited(open_incident(LadderState(), 1, "breaker", T0 - 30))
    decision = call(replace(DEPENDENT, checked_at=T0), state, deps={"db": dep("db", U, OPEN)})
    assert isinstance(decision, Wait) and decision.waiting_on == "db"


def test_a_restart_during_the_restart_backoff_keeps_waiting_until_the_same_instant() -> None:
    """The count and the incident's open time live in the persisted ladder JSON (written with the
    incident row), so a daemon restarted — or killed -9 — mid-wait does not act early."""
    state = incidents(4)
    restored = LadderState.from_json(state.to_json())
    assert restored == state and restored.repeats == 5 and restored.incident.repeat == 4
    waiting = call(APP, restored, now=T0 + 3.9)
    assert isinstance(waiting, Wait) and waiting.until == T0 + 4
    assert isinstance(call(APP, restored, now=T0 + 4), RunStep)


def test_dependents_are_found_through_chains_once_each() -> None:
    from daemon.config.models import Component, HealerdConfig

    def mk(name: str, deps: list[str]) -> Component:
        return Component.model_validate({"name": name, "depends_on": deps, "check": {"kind": "tcp", "port": 1}})

    config = HealerdConfig(
        components={"db": mk("db", []), "api": mk("api", ["db"]), "web": mk("web", ["api", "db"]), "x": mk("x", [])}
    )
    assert sorted(config.dependents("db")) == ["api", "web"]
    assert config.dependents("api") == ["web"] and config.dependents("x") == []

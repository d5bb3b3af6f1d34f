"""Flapping as its own state (issue 10): detection, one incident, its own budget, one escalation and one
"flapping ended" message."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from healer_kit import T0, CloseIncident, Escalate, OpenIncident, RunStep, Wait, call, comp, escalate, retry

from daemon.config.models import Flapping
from daemon.engine.ladder import (
    LadderState,
    Outcome,
    observe_health,
    on_breaker_closed,
    open_incident,
    record_escalation,
    record_finished,
    record_started,
)
from daemon.types import BreakerState, Status

OPEN, CLOSED = BreakerState.OPEN, BreakerState.CLOSED
FLAP = Flapping(flaps=2, within="10m", quiet="1m", actions=1)
APP = replace(comp(retry(attempts=5), escalate("ops", repeat_every="1h"), cooldown=0.0), flapping=FLAP)


def history(*opened_at: float, healed: bool = False) -> LadderState:
    """Closed incidents opened at these times: ended by themselves (flaps), or each healed by a retry."""
    state = LadderState()
    for i, at in enumerate(opened_at):
        state = open_incident(state, i + 1, "breaker", at)
        if healed:
            state = record_started(state, 0, "retry", at + 0.5)
            state = record_finished(state, APP.recovery[0], Outcome.SUCCEEDED, at + 0.8, random.Random(0))
        state = on_breaker_closed(state, at + 1)
    return state


@pytest.mark.parametrize(
    "opens, healed, trigger",
    [
        ((), False, "breaker"),
        ((T0 - 60,), False, "breaker"),
        ((T0 - 120, T0 - 60), False, "flapping"),  # two incidents ended by themselves within 10 minutes
        ((T0 - 700, T0 - 60), False, "breaker"),  # one of them is out of the window
        ((T0 - 50, T0 - 40, T0 - 30, T0 - 20), True, "breaker"),  # healed each time: a crash loop, not flapping
    ],
)
def test_the_next_incident_after_enough_flaps_within_the_window_opens_as_flapping(opens, healed, trigger) -> None:
    d = call(APP, history(*opens, healed=healed))
    assert isinstance(d, OpenIncident) and d.trigger == trigger
    if trigger == "flapping":
        assert "flapping (2 incident(s) ended by themselves within 10m)" in d.reason and "healthy for 1m" in d.reason


def flapping(actions: int = 0, escalated: bool = True) -> LadderState:
    state = open_incident(history(T0 - 120, T0 - 60), 3, "flapping", T0 - 5)
    assert state.incident.flapping
    for i in range(actions):
        state = record_started(state, 0, "retry", T0 - 4 + i)
        state = record_finished(state, APP.recovery[0], Outcome.FAILED, T0 - 4 + i, random.Random(0))
    if escalated:
        state = record_escalation(state, "initial", 1, ("ops",), T0 - 4, 3)
    return state


def test_a_flapping_incident_escalates_once_at_once() -> None:
    d = call(APP, flapping(escalated=False))
    assert isinstance(d, Escalate) and d.kind == "initial" and d.index == 1 and "flapping since" in d.reason
    assert not isinstance(call(APP, flapping(escalated=True)), Escalate)


def test_a_flapping_incident_takes_at_most_its_own_budget_of_actions() -> None:
    first = call(APP, flapping(actions=0))
    assert isinstance(first, RunStep)
    spent = call(APP, flapping(actions=1), now=T0 + 600)
    assert not isinstance(spent, RunStep) and "retry: flapping, 1/1 action(s) used" in spent.reason


@pytest.mark.parametrize(
    "healthy_for, kind, words",
    [
        (None, Wait, "not healthy yet"),
        (30.0, Wait, "healthy for 30s; the flapping incident ends after 1m healthy"),
        (60.0, CloseIncident, "flapping ended: healthy for 1m (≥ 1m)"),
    ],
)
def test_a_flapping_incident_stays_open_through_good_phases_until_quiet(healthy_for, kind, words) -> None:
    state = flapping()
    if healthy_for is not None:
        state = observe_health(state, Status.HEALTHY, CLOSED, T0 - healthy_for, 1800)
    d = call(replace(APP, status=Status.HEALTHY, error_class=None), state, breaker=CLOSED)
    assert isinstance(d, kind) and words in d.reason, d


def test_the_flapping_ended_message_is_owed_once_and_the_flaps_are_forgotten() -> None:
    closed = on_breaker_closed(flapping(), T0)
    assert closed.flap_opens == () and closed.resolved_pending[0].flapping
    d = call(APP, closed, breaker=CLOSED)
    assert isinstance(d, Escalate) and d.kind == "resolved" and d.reason.startswith("flapping ended: incident 3 closed")
    done = record_escalation(closed, "resolved", 1, ("ops",), T0, 3)
    assert (
        call(replace(APP, status=Status.HEALTHY, error_class=None), done, breaker=CLOSED).__class__.__name__
        == "Nothing"
    )
    assert LadderState.from_json(closed.to_json()) == closed


def test_a_reopen_during_flapping_opens_no_new_incident() -> None:
    d = call(APP, flapping(actions=1), breaker=OPEN, now=T0 + 5)
    assert not isinstance(d, OpenIncident)

"""The healer's shortcut (`heal_apply.is_quiet`, used by Healer and by replay) agrees with decide().

A pass skips decide() for a component that is quiet: healthy breaker, no incident, fallback, step,
pending message or operator request, and its last recorded decision a Nothing. The shortcut is only
sound if decide() would have said Nothing again with nothing to record, for any ladder the reducers can
reach. Ladders here come from the same simulator as test_decide_properties (random steps, outcomes,
crashes and weather), then each one is asked at random times with a passing breaker.
"""

from __future__ import annotations

from dataclasses import replace

from healer_kit import T0, call, comp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_decide_properties import ladders, moves, simulate, weathers

from daemon.engine.decision import Nothing
from daemon.engine.heal_apply import applied, decision_key, is_quiet, is_recorded
from daemon.engine.ladder import LadderState
from daemon.types import BreakerState, Status

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PASSING = st.sampled_from([BreakerState.CLOSED, BreakerState.DISABLED])
ANY_BREAKER = st.sampled_from(list(BreakerState))


def _last_keys(breaker: BreakerState) -> list:
    """What the last recorded decision may have been when the component is quiet."""
    return [
        None,
        decision_key(Nothing(f"breaker {breaker.value}: nothing to heal"), None),
        decision_key(Nothing("breaker closed: nothing to heal"), None),
        decision_key(Nothing("breaker disabled: nothing to heal"), None),
    ]


@SETTINGS
@given(
    ladders,
    moves,
    st.lists(weathers, min_size=1, max_size=4),
    ANY_BREAKER,
    st.floats(0, 10_000),
    st.sampled_from([Status.HEALTHY, Status.DEGRADED]),
)
def test_a_quiet_component_is_one_decide_would_leave_alone_with_nothing_to_record(
    steps, script, weather, breaker, later, status
):
    world = simulate(steps, script, weather)
    # the ladders the simulator reached, healed: what a quiet component's ladder looks like afterwards
    states = [
        world.ladder,
        replace(
            world.ladder,
            incident=None,
            fallback=None,
            in_progress=None,
            resolved_pending=(),
            operator_requested_at=None,
        ),
        LadderState(),
    ]
    now = world.now + later
    component = replace(comp(*steps), status=status, error_class=None)
    for state in states:
        for last_key in _last_keys(breaker):
            if not is_quiet(state, breaker, last_key):
                continue
            d = call(component, state, breaker=breaker, now=now)
            assert isinstance(d, Nothing), d
            assert applied(state, d, now) is None
            assert not is_recorded(state, d, last_key, None), (last_key, d)


@SETTINGS
@given(ladders, moves, st.lists(weathers, min_size=1, max_size=4), PASSING, st.floats(0, 10_000))
def test_under_maintenance_the_shortcut_skips_only_a_wait_that_changes_nothing(steps, script, weather, breaker, later):
    # a window covering a healthy component: decide() says Wait (checks run, no action); the healer's
    # shortcut does not record that wait for a quiet component, and nothing else is lost
    world = simulate(steps, script, weather)
    state = replace(
        world.ladder, incident=None, fallback=None, in_progress=None, resolved_pending=(), operator_requested_at=None
    )
    component = replace(
        comp(*steps), status=Status.HEALTHY, error_class=None, suppressed="window w", suppressed_until=T0 + 1e6
    )
    now = world.now + later
    if is_quiet(state, breaker, None):
        d = call(component, state, breaker=breaker, now=now)
        assert type(d).__name__ == "Wait" and applied(state, d, now) is None

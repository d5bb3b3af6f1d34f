"""The overload controller: stretch when runs are late or missed, relax slowly when calm."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daemon.scheduling.overload import CALM_WINDOWS, MAX_STRETCH, LoadState, Window, next_load_state


def test_missed_runs_double_the_stretch_with_a_reason():
    state, reason = next_load_state(LoadState(), Window(submitted=1000, late=0, missed=50))
    assert state.stretch == 2 and "cannot keep up" in reason and "×2" in reason


def test_the_window_after_a_change_is_not_judged_it_still_carries_the_old_backlog():
    state, _ = next_load_state(LoadState(), Window(submitted=1000, late=0, missed=50))
    state, reason = next_load_state(state, Window(submitted=1000, late=900, missed=500))
    assert state.stretch == 2 and reason is None and not state.settling
    state, _ = next_load_state(state, Window(submitted=1000, late=0, missed=50))
    assert state.stretch == 4


def test_far_behind_stretches_four_times_at_once_but_never_past_the_cap():
    assert next_load_state(LoadState(), Window(submitted=100, late=80, missed=300))[0].stretch == 4
    assert next_load_state(LoadState(stretch=16), Window(submitted=100, late=80, missed=300))[0].stretch == 32


def test_many_late_runs_double_the_stretch_even_without_misses():
    state, _ = next_load_state(LoadState(stretch=2), Window(submitted=1000, late=200, missed=0))
    assert state.stretch == 4


def test_a_few_late_runs_are_tolerated():
    state, reason = next_load_state(LoadState(), Window(submitted=1000, late=30, missed=0))
    assert state == LoadState(1, 0) and reason is None


def test_relaxing_needs_several_calm_windows_in_a_row():
    state = LoadState(stretch=4)  # not settling: the last change is a window behind
    calm = Window(submitted=1000, late=0, missed=0)
    for _ in range(CALM_WINDOWS - 1):
        state, reason = next_load_state(state, calm)
        assert state.stretch == 4 and reason is None
    state, reason = next_load_state(state, calm)
    assert state.stretch == 2 and "×2" in reason


def test_a_busy_window_resets_the_calm_count():
    state, _ = next_load_state(LoadState(stretch=4, calm=CALM_WINDOWS - 1), Window(1000, 20, 0))
    assert state == LoadState(4, 0)


def test_back_to_configured_intervals_is_said_in_words():
    _, reason = next_load_state(LoadState(stretch=2, calm=CALM_WINDOWS - 1), Window(1000, 0, 0))
    assert "back to configured" in reason


def test_too_few_runs_say_nothing():
    assert next_load_state(LoadState(stretch=4, calm=1), Window(5, 5, 0)) == (LoadState(4, 1), None)


@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 500)), max_size=60))
def test_the_stretch_is_always_a_power_of_two_within_bounds_and_moves_at_most_two_steps(windows):
    state = LoadState()
    for submitted, late, missed in windows:
        new, reason = next_load_state(state, Window(submitted, min(late, submitted), missed))
        assert new.stretch in {2**k for k in range(6)} and 1 <= new.stretch <= MAX_STRETCH
        assert new.stretch in (state.stretch, state.stretch * 2, state.stretch * 4, state.stretch // 2)
        assert (reason is not None) == (new.stretch != state.stretch)
        state = new

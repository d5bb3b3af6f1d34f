"""Levels from the score: thresholds, hysteresis, overrides and restarts, with a FakeClock."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.clock import FakeClock
from daemon.config.models import Degradation
from daemon.engine.degradation import Cause, LevelTracker, TrackerState, level_for, restore_or_fresh
from daemon.types import Level

CFG = Degradation()  # 90 / 70 / 40, margin 5, hold 60s


def tracker(cfg=CFG, clock=None, start=None):
    clock = clock or FakeClock()
    t = LevelTracker(cfg, clock)
    if start is not None:
        t.update({Level.REDUCED: 80, Level.MINIMAL: 50, Level.EMERGENCY: 10}[start])
        assert t.level is start
    return t, clock


@pytest.mark.parametrize(
    "score,level",
    [
        (100, Level.FULL),
        (90, Level.FULL),
        (89.99, Level.REDUCED),
        (70, Level.REDUCED),
        (69.9, Level.MINIMAL),
        (40, Level.MINIMAL),
        (39.9, Level.EMERGENCY),
        (0, Level.EMERGENCY),
    ],
)
def test_thresholds_map_scores_to_levels(score, level):
    assert level_for(score, CFG) is level


def test_going_down_is_immediate_and_says_why():
    t, clock = tracker()
    change = t.update(62.5)
    assert (change.from_level, change.to_level, change.cause) == (Level.FULL, Level.MINIMAL, Cause.SCORE)
    assert change.reason == "score 62.5 < 70 (minimal)"
    assert change.at == clock.wall() and t.since == clock.wall()


def test_a_crash_drops_straight_to_emergency():
    t, _ = tracker()
    assert t.update(12).to_level is Level.EMERGENCY


def test_going_up_waits_for_the_hold_then_says_how_long():
    t, clock = tracker(start=Level.MINIMAL)
    assert t.update(80) is None  # clears 70 + 5 from now on
    clock.advance(59)
    assert t.update(80) is None
    assert t.pending_recovery() == (Level.REDUCED, pytest.approx(1.0))
    clock.advance(1)
    change = t.update(80)
    assert (change.from_level, change.to_level, change.cause) == (Level.MINIMAL, Level.REDUCED, Cause.RECOVERY)
    assert change.reason == "score 80.0 ≥ 75 for 60s (reduced)"


def test_a_score_inside_the_margin_never_recovers():
    t, clock = tracker(start=Level.MINIMAL)
    for _ in range(100):
        clock.advance(30)
        assert t.update(74.9) is None
    assert t.level is Level.MINIMAL


def test_one_dip_below_the_margin_restarts_the_hold():
    t, clock = tracker(start=Level.MINIMAL)
    t.update(80)
    clock.advance(50)
    t.update(72)  # above 70 (no drop) but not ≥ 75: the clearing is interrupted
    clock.advance(10)
    assert t.update(80) is None
    clock.advance(59)
    assert t.update(80) is None
    clock.advance(1)
    assert t.update(80).to_level is Level.REDUCED


def test_clearing_every_threshold_for_the_hold_jumps_straight_to_full():
    t, clock = tracker(start=Level.EMERGENCY)
    t.update(99)
    clock.advance(60)
    change = t.update(99)
    assert (change.from_level, change.to_level) == (Level.EMERGENCY, Level.FULL)
    assert change.reason == "score 99.0 ≥ 95 for 60s (full)"


def test_each_better_level_keeps_its_own_hold():
    t, clock = tracker(start=Level.MINIMAL)
    t.update(80)  # clears reduced's bar (75)
    clock.advance(30)
    t.update(97)  # now also clears full's bar (95)
    clock.advance(30)
    assert t.update(97).to_level is Level.REDUCED  # 60s clear of 75, only 30s clear of 95
    clock.advance(29)
    assert t.update(97) is None
    clock.advance(1)
    assert t.update(97).to_level is Level.FULL


def test_an_undefined_score_keeps_the_level_and_drops_the_pending_recovery():
    t, clock = tracker(start=Level.MINIMAL)
    t.update(80)
    clock.advance(30)
    assert t.update(None) is None
    assert t.level is Level.MINIMAL and t.pending_recovery() is None
    clock.advance(30)
    assert t.update(80) is None  # the hold starts again


def test_a_drop_during_a_pending_recovery_cancels_it():
    t, clock = tracker(start=Level.REDUCED)
    t.update(97)
    clock.advance(30)
    assert t.update(50).to_level is Level.MINIMAL
    clock.advance(30)
    assert t.update(97) is None


def test_without_hysteresis_an_oscillating_score_flaps():
    # The control for the property below: margin 0 and a short hold let noise through.
    cfg = Degradation(margin=0, hold="1s")
    t, clock = tracker(cfg)
    changes = 0
    for i in range(20):
        clock.advance(2)
        changes += t.update(69 if i % 4 < 2 else 71) is not None
    assert changes >= 8


thresholds = st.sampled_from(["reduced_below", "minimal_below", "emergency_below"])


@settings(max_examples=300, deadline=None)
@given(
    which=thresholds,
    margin=st.floats(min_value=0.5, max_value=20),
    hold_s=st.integers(min_value=1, max_value=600),
    data=st.data(),
)
def test_a_score_oscillating_around_a_threshold_by_less_than_the_margin_changes_level_at_most_once(
    which, margin, hold_s, data
):
    cfg = Degradation(margin=margin, hold=f"{hold_s}s")
    centre = getattr(cfg, which)
    t, clock = tracker(cfg)
    t.update(centre)  # settle on the level a steady score at the threshold gives, then count
    noise = st.floats(min_value=-margin * 0.999, max_value=margin * 0.999)
    steps = data.draw(
        st.lists(st.tuples(noise, st.floats(min_value=0.1, max_value=3 * hold_s)), min_size=1, max_size=200)
    )
    levels = [t.level]
    for delta, dt in steps:
        clock.advance(dt)
        t.update(min(100.0, max(0.0, centre + delta)))
        if t.level is not levels[-1]:
            levels.append(t.level)
    assert len(levels) <= 2, levels


@settings(max_examples=300, deadline=None)
@given(
    bars=st.lists(st.floats(min_value=1, max_value=99), min_size=3, max_size=3, unique=True),
    margin=st.floats(min_value=0.5, max_value=30),
    hold_s=st.integers(min_value=1, max_value=120),
    centre=st.floats(min_value=0, max_value=100),
    start=st.sampled_from(list(Level)),
    data=st.data(),
)
def test_noise_narrower_than_the_margin_never_reverses_the_direction_of_travel(
    bars, margin, hold_s, centre, start, data
):
    high, mid, low = sorted(bars, reverse=True)
    cfg = Degradation(reduced_below=high, minimal_below=mid, emergency_below=low, margin=margin, hold=f"{hold_s}s")
    clock = FakeClock()
    t = LevelTracker.restore(TrackerState(start, clock.wall(), None, clock.wall()), cfg, clock)
    width = margin * 0.999
    low_edge = data.draw(st.floats(min_value=centre - width, max_value=centre))
    noise = st.floats(min_value=low_edge, max_value=low_edge + width)
    steps = data.draw(
        st.lists(st.tuples(noise, st.floats(min_value=0.1, max_value=3 * hold_s)), min_size=1, max_size=150)
    )
    ranks = [t.level.rank]
    for score, dt in steps:
        clock.advance(dt)
        t.update(score)
        if t.level.rank != ranks[-1]:
            ranks.append(t.level.rank)
    moves = [b - a for a, b in itertools.pairwise(ranks)]
    assert all(m > 0 for m in moves) or all(m < 0 for m in moves), ranks


# --- overrides -------------------------------------------------------------------------------------


def test_an_override_wins_until_it_expires_by_itself():
    t, clock = tracker()
    change = t.set_override(Level.MINIMAL, clock.wall() + 3600, "db migration")
    assert (change.from_level, change.to_level, change.cause) == (Level.FULL, Level.MINIMAL, Cause.OVERRIDE_SET)
    assert "db migration" in change.reason and "until 2027-01-15T09:00:00Z" in change.reason
    assert t.update(100) is None and t.level is Level.MINIMAL
    clock.advance(3599)
    assert t.expire() is None and t.level is Level.MINIMAL
    clock.advance(1)
    expired = t.update(100)
    assert (expired.from_level, expired.to_level, expired.cause) == (Level.MINIMAL, Level.FULL, Cause.OVERRIDE_EXPIRED)
    assert "expired" in expired.reason and "db migration" in expired.reason
    assert t.override is None and t.since == clock.wall()


def test_the_computed_level_keeps_tracking_under_an_override_with_its_hysteresis():
    t, clock = tracker()
    t.set_override(Level.FULL, clock.wall() + 600, "demo")
    assert t.update(50) is None  # hidden by the override
    assert (t.level, t.computed) == (Level.FULL, Level.MINIMAL)
    clock.advance(600)
    change = t.update(50)
    assert (change.from_level, change.to_level) == (Level.FULL, Level.MINIMAL)
    assert change.reason.endswith("computed level minimal")


def test_clearing_an_override_returns_to_the_computed_level():
    t, clock = tracker(start=Level.REDUCED)
    t.set_override(Level.EMERGENCY, clock.wall() + 60, "drill")
    change = t.clear_override("drill over")
    assert (change.from_level, change.to_level, change.cause) == (
        Level.EMERGENCY,
        Level.REDUCED,
        Cause.OVERRIDE_CLEARED,
    )
    assert "drill over" in change.reason
    assert t.clear_override() is None


def test_an_override_to_the_current_level_is_reported_but_is_not_a_level_change():
    t, clock = tracker(start=Level.REDUCED)
    since = t.since
    change = t.set_override(Level.REDUCED, clock.wall() + 60, "pin")
    assert change.cause is Cause.OVERRIDE_SET and not change.changed
    assert t.since == since


def test_an_override_that_ends_in_the_past_is_refused():
    t, clock = tracker()
    with pytest.raises(ValueError, match="future"):
        t.set_override(Level.MINIMAL, clock.wall(), "too late")
    assert t.override is None


# --- restarts -----------------------------------------------------------------------------------------


def restart(t, *, down_for, monotonic_base):
    """Snapshot through JSON, as it would be stored, and resume in a 'new process' with another clock."""
    stored = json.loads(json.dumps(t.snapshot().to_dict()))
    old = t._clock
    clock = FakeClock(wall=old.wall() + down_for, monotonic=monotonic_base)
    resumed, problem = restore_or_fresh(stored, t.config, clock)
    assert problem is None
    return resumed, clock


def test_an_override_expires_on_time_after_a_restart_on_a_different_monotonic_base():
    t, clock = tracker()
    t.update(95)
    until = clock.wall() + 3600
    t.set_override(Level.EMERGENCY, until, "maintenance")
    clock.advance(1000)
    t2, clock2 = restart(t, down_for=500, monotonic_base=3.0)  # monotonic restarts near zero
    assert (t2.level, t2.computed, t2.override.until) == (Level.EMERGENCY, Level.FULL, until)
    clock2.advance(2099)  # 1000 + 500 + 2099 = 3599s after setting
    assert t2.update(95) is None
    clock2.advance(1)
    change = t2.update(95)
    assert (change.from_level, change.to_level, change.cause) == (Level.EMERGENCY, Level.FULL, Cause.OVERRIDE_EXPIRED)


def test_an_override_that_expired_while_the_daemon_was_down_ends_at_the_first_look():
    t, clock = tracker(start=Level.MINIMAL)
    t.set_override(Level.REDUCED, clock.wall() + 60, "short")
    t2, _ = restart(t, down_for=3600, monotonic_base=10_000_000.0)
    change = t2.expire()
    assert (change.from_level, change.to_level) == (Level.REDUCED, Level.MINIMAL)


def test_a_pending_recovery_keeps_the_clearing_seen_before_a_restart_but_not_the_downtime():
    t, clock = tracker(start=Level.MINIMAL)
    t.update(80)
    clock.advance(40)
    t.update(80)
    t2, clock2 = restart(t, down_for=3600, monotonic_base=7.0)
    assert t2.level is Level.MINIMAL
    assert t2.pending_recovery() == (Level.REDUCED, pytest.approx(20.0))
    assert t2.update(80) is None
    clock2.advance(20)
    change = t2.update(80)
    assert change.to_level is Level.REDUCED and change.reason == "score 80.0 ≥ 75 for 60s (reduced)"


def test_a_restored_pending_recovery_needs_the_first_score_after_restart_to_still_clear():
    t, clock = tracker(start=Level.MINIMAL)
    t.update(80)
    clock.advance(59)
    t.update(80)
    t2, clock2 = restart(t, down_for=5, monotonic_base=1.0)
    clock2.advance(5)
    assert t2.update(72) is None and t2.pending_recovery() is None


def test_the_level_and_its_since_survive_a_restart():
    t, _clock = tracker(start=Level.EMERGENCY)
    since = t.since
    t2, _ = restart(t, down_for=30, monotonic_base=0.0)
    assert (t2.level, t2.since) == (Level.EMERGENCY, since)
    assert t2.update(10) is None


@pytest.mark.parametrize(
    "stored", [{}, {"computed": "bogus", "since": 1, "taken_at": 1}, {"computed": "full", "since": "x", "taken_at": 1}]
)
def test_an_unusable_snapshot_starts_fresh_and_says_why(stored):
    t, problem = restore_or_fresh(stored, CFG, FakeClock())
    assert t.level is Level.FULL
    assert "unusable" in problem

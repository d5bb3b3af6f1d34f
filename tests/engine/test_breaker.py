"""The circuit breaker's rules, reasons, operator states and restart behaviour, on a FakeClock.

Times in these tests are multiples of 0.25 s on purpose: the wall clock sits near 1.8e9, where such
values are exact in binary floating point, so a breaker restored on another monotonic base can be
compared with the original to the last bit.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from daemon.clock import FakeClock
from daemon.config.models import Breaker as BreakerSpec
from daemon.engine.breaker import (
    BreakerSnapshot,
    BreakerSnapshotError,
    CircuitBreaker,
    Transition,
    open_period,
)
from daemon.types import BreakerState as S
from daemon.types import Status

OK, BAD, SLOW, UNK = Status.HEALTHY, Status.UNHEALTHY, Status.DEGRADED, Status.UNKNOWN


def make(**spec: object) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(BreakerSpec(**spec), clock), clock


def feed_all(breaker: CircuitBreaker, *results: Status | tuple[Status, str | None]) -> list[Transition]:
    out: list[Transition] = []
    for item in results:
        status, error = item if isinstance(item, tuple) else (item, None if not item.is_failure else "refused")
        out += breaker.feed(status, error)
    return out


def trip(breaker: CircuitBreaker) -> Transition:
    """Open a CLOSED breaker through its consecutive-failure rule."""
    transitions = feed_all(breaker, *[BAD] * breaker.spec.consecutive_failures)
    assert [t.to_state for t in transitions] == [S.OPEN]
    return transitions[0]


# --- CLOSED → OPEN ------------------------------------------------------------------------------------


def test_consecutive_failures_open_the_breaker_with_the_error_class_in_the_reason() -> None:
    breaker, clock = make(consecutive_failures=3, min_checks=10, window=20, open_for="30s")
    assert feed_all(breaker, BAD, BAD) == []
    [t] = feed_all(breaker, BAD)
    assert (t.from_state, t.to_state) == (S.CLOSED, S.OPEN)
    assert t.reason == "3 consecutive failures (refused)"
    assert t.at_wall == clock.wall() and t.open_until_wall == clock.wall() + 30
    assert breaker.state is S.OPEN and breaker.open_until == clock.wall() + 30


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        ([(BAD, "refused"), (BAD, "timeout"), (BAD, "refused")], "3 consecutive failures (refused, timeout)"),
        ([(UNK, None), (UNK, None), (UNK, "error")], "3 consecutive failures (unknown, error)"),
        ([(BAD, None), (UNK, None), (BAD, None)], "3 consecutive failures (unhealthy, unknown)"),
    ],
)
def test_unknown_counts_as_a_failure_and_the_reason_lists_each_error_class_once(results, reason) -> None:
    breaker, _ = make(consecutive_failures=3)
    assert [t.reason for t in feed_all(breaker, *results)] == [reason]


@pytest.mark.parametrize("breaker_of_streak", [OK, SLOW])
def test_a_success_or_a_slow_call_breaks_the_failure_streak(breaker_of_streak: Status) -> None:
    breaker, _ = make(consecutive_failures=3, min_checks=20, window=20)
    assert feed_all(breaker, BAD, BAD, breaker_of_streak, BAD, BAD) == []
    assert breaker.state is S.CLOSED and breaker.consecutive_failures == 2


def test_degraded_results_are_slow_calls_not_failures() -> None:
    breaker, _ = make(consecutive_failures=5, min_checks=4, window=4, failure_rate=0.5)
    assert breaker.failure_rate is None and breaker.slow_call_rate is None
    assert feed_all(breaker, SLOW, SLOW, SLOW, BAD) == []
    assert breaker.failure_rate == 0.25 and breaker.slow_call_rate == 0.75
    assert breaker.recent == ("slow", "slow", "slow", "refused")


def test_failure_rate_opens_at_the_threshold_once_min_checks_results_exist() -> None:
    breaker, _ = make(consecutive_failures=50, min_checks=10, window=20, failure_rate=0.5)
    assert feed_all(breaker, *[BAD, OK] * 4, BAD) == []  # 5 of 9: 56% but below min_checks
    [t] = feed_all(breaker, OK)
    assert t.reason == "failure rate 50% ≥ 50% over last 10 checks"


def test_failure_rate_comparison_is_inclusive_despite_float_rounding() -> None:
    # 0.28 * 25 is 7.000000000000001 in floats: 7 failures of 25 must still trip a 28% rule.
    breaker, _ = make(consecutive_failures=50, min_checks=25, window=25, failure_rate=0.28)
    assert feed_all(breaker, *[OK] * 19, *[BAD] * 6) == []  # 6 of 25: 24%
    [t] = feed_all(breaker, BAD)  # the oldest success slides out: 7 of 25
    assert t.reason == "failure rate 28% ≥ 28% over last 25 checks"


def test_100_percent_failures_below_min_checks_do_not_open_without_the_consecutive_rule() -> None:
    breaker, _ = make(consecutive_failures=30, min_checks=10, window=30)
    assert feed_all(breaker, *[BAD] * 9) == []
    [t] = feed_all(breaker, BAD)
    assert t.reason == "failure rate 100% ≥ 50% over last 10 checks"


def test_the_window_slides_so_old_failures_stop_counting() -> None:
    breaker, _ = make(consecutive_failures=10, min_checks=4, window=4, failure_rate=0.75)
    # cumulative failures reach 5 of 8 (62%), but no 4 consecutive results hold 3 failures until the last
    assert feed_all(breaker, BAD, BAD, OK, OK, OK, BAD, BAD) == []
    [t] = feed_all(breaker, BAD)
    assert t.reason == "failure rate 75% ≥ 75% over last 4 checks"


# --- OPEN → HALF_OPEN → CLOSED / OPEN -----------------------------------------------------------------


def test_open_goes_half_open_exactly_when_the_open_period_has_elapsed() -> None:
    breaker, clock = make(open_for="30s")
    trip(breaker)
    clock.advance(29.75)
    assert breaker.tick() == [] and not breaker.allows_check() and breaker.open_remaining() == 0.25
    clock.advance(0.25)
    assert breaker.allows_check()
    [t] = breaker.tick()
    assert (t.from_state, t.to_state, t.reason) == (S.OPEN, S.HALF_OPEN, "open period 30s elapsed")
    assert t.open_until_wall is None and breaker.open_until is None


def test_results_while_open_change_nothing_so_counters_cannot_overshoot() -> None:
    breaker, clock = make(consecutive_failures=3)
    trip(breaker)
    before = breaker.snapshot()
    clock.advance(10)
    assert feed_all(breaker, BAD, BAD, OK, OK, OK) == []
    assert breaker.snapshot() == before
    assert breaker.consecutive_failures == 3


def test_a_result_after_the_deadline_first_half_opens_then_is_judged() -> None:
    breaker, clock = make(open_for="30s")
    trip(breaker)
    clock.advance(45)
    transitions = breaker.feed(Status.UNHEALTHY, "timeout")
    assert [(t.from_state, t.to_state) for t in transitions] == [(S.OPEN, S.HALF_OPEN), (S.HALF_OPEN, S.OPEN)]
    assert transitions[1].reason == "failure in half-open (timeout); re-open 1, open for 1m"


@pytest.mark.parametrize("needed", [1, 2, 5])
def test_half_open_closes_after_exactly_the_configured_successes(needed: int) -> None:
    breaker, clock = make(half_open_successes=needed, open_for="30s")
    trip(breaker)
    clock.advance(30)
    breaker.tick()
    assert feed_all(breaker, *[OK] * (needed - 1)) == []
    [t] = feed_all(breaker, OK)
    assert (t.from_state, t.to_state) == (S.HALF_OPEN, S.CLOSED)
    assert t.reason == ("1 success in half-open" if needed == 1 else f"{needed} successes in half-open")
    assert breaker.recent == () and breaker.consecutive_failures == 0


def test_degraded_counts_as_a_success_in_half_open() -> None:
    breaker, clock = make(half_open_successes=2)
    trip(breaker)
    clock.advance(30)
    assert [t.to_state for t in feed_all(breaker, SLOW, SLOW)] == [S.HALF_OPEN, S.CLOSED]


def test_any_failure_in_half_open_reopens_even_after_some_successes() -> None:
    breaker, clock = make(half_open_successes=3)
    trip(breaker)
    clock.advance(30)
    [t] = feed_all(breaker, OK, OK, (UNK, None))[1:]
    assert (t.from_state, t.to_state) == (S.HALF_OPEN, S.OPEN)
    assert t.reason.startswith("failure in half-open (unknown)")


def test_each_consecutive_reopen_doubles_the_open_period_up_to_the_cap() -> None:
    breaker, clock = make(open_for="30s", max_open_for="2m")
    periods = [trip(breaker).open_until_wall - clock.wall()]
    for _ in range(4):
        clock.advance(breaker.open_remaining())
        [_, reopened] = feed_all(breaker, BAD)
        periods.append(reopened.open_until_wall - clock.wall())
    assert periods == [30, 60, 120, 120, 120]
    assert breaker.reopen_count == 4


def test_a_new_incident_starts_the_open_period_again_from_open_for() -> None:
    """Issue 10: the doubling counts re-opens within one incident; a service healed and killed again
    soon after is not reported open for a doubled period (it was open for 80 s with open_for 5 s)."""
    breaker, clock = make(open_for="30s", reset_after="10m", half_open_successes=1)
    trip(breaker)
    clock.advance(30)
    feed_all(breaker, BAD)  # re-open 1 within the incident: 60 s
    clock.advance(60)
    feed_all(breaker, OK)  # closed
    clock.advance(5)
    t = trip(breaker)
    assert t.open_until_wall - clock.wall() == 30
    assert t.reason == "3 consecutive failures (refused)" and breaker.reopen_count == 0


def test_a_verified_recovery_moves_an_open_breaker_to_half_open_at_once() -> None:
    breaker, clock = make(open_for="30s", half_open_successes=2)
    trip(breaker)
    clock.advance(1)
    [t] = breaker.recovered("verified recovery (incident 4, retry)")
    assert (t.from_state, t.to_state, t.reason) == (S.OPEN, S.HALF_OPEN, "verified recovery (incident 4, retry)")
    assert breaker.allows_check() and t.open_until_wall is None
    assert [t.to_state for t in feed_all(breaker, OK, OK)] == [S.CLOSED]


def test_a_failed_probe_after_a_verified_recovery_reopens_with_the_doubled_period() -> None:
    breaker, clock = make(open_for="30s", half_open_successes=2)
    trip(breaker)
    breaker.recovered("verified")
    [t] = feed_all(breaker, BAD)
    assert t.to_state is S.OPEN and t.open_until_wall - clock.wall() == 60


@pytest.mark.parametrize("operator", ["force_open", "disable", "reset"])
def test_recovered_leaves_operator_and_passing_states_alone(operator: str) -> None:
    breaker, _ = make()
    getattr(breaker, operator)()
    state = breaker.state
    assert breaker.recovered("verified") == [] and breaker.state is state


def test_open_period_never_overflows_for_absurd_reopen_counts() -> None:
    spec = BreakerSpec(open_for="30s", max_open_for="10m")
    assert open_period(spec, 0) == 30 and open_period(spec, 10**6) == 600


# --- operator states ------------------------------------------------------------------------------------


def test_forced_open_rejects_checks_and_ignores_time_and_results_until_reset() -> None:
    breaker, clock = make()
    [t] = breaker.force_open(reason="maintenance")
    assert (t.from_state, t.to_state, t.reason) == (S.CLOSED, S.FORCED_OPEN, "operator: forced open (maintenance)")
    assert t.open_until_wall is None and not breaker.allows_check()
    clock.advance(86_400)
    assert breaker.tick() == [] and feed_all(breaker, OK, OK, OK) == []
    assert breaker.state is S.FORCED_OPEN
    [t] = breaker.reset("fixed by hand")
    assert (t.to_state, t.reason) == (S.CLOSED, "operator: reset (fixed by hand)")


def test_open_for_a_duration_is_a_normal_open_with_a_custom_deadline() -> None:
    breaker, clock = make(open_for="30s")
    [t] = breaker.force_open(for_=timedelta(minutes=10), reason="deploy")
    assert (t.to_state, t.reason) == (S.OPEN, "operator: opened for 10m (deploy)")
    assert t.open_until_wall == clock.wall() + 600 and breaker.reopen_count == 0
    clock.advance(599.75)
    assert breaker.tick() == []
    clock.advance(0.25)
    assert [x.reason for x in breaker.tick()] == ["open period 10m elapsed"]


def test_open_for_zero_is_refused() -> None:
    breaker, _ = make()
    with pytest.raises(ValueError):
        breaker.force_open(for_=0)
    assert breaker.state is S.CLOSED


def test_disabled_allows_checks_but_never_transitions_by_itself() -> None:
    breaker, clock = make(consecutive_failures=1)
    [t] = breaker.disable("flaky probe")
    assert (t.to_state, t.reason) == (S.DISABLED, "operator: disabled (flaky probe)")
    assert feed_all(breaker, *[BAD] * 50) == [] and breaker.allows_check()
    clock.advance(3600)
    assert breaker.tick() == [] and breaker.state is S.DISABLED


def test_reset_clears_counters_window_and_doubling() -> None:
    breaker, clock = make(consecutive_failures=5, min_checks=10, window=10)
    trip(breaker)
    clock.advance(30)
    feed_all(breaker, BAD)  # re-open 1
    breaker.reset()
    assert breaker.snapshot() == BreakerSnapshot(S.CLOSED, clock.wall(), None, 0, 0, 0, (), None)
    assert trip(breaker).open_until_wall - clock.wall() == 30


# --- snapshot, restore and the known pitfalls of persisted breakers -------------------------------------


def restart(breaker: CircuitBreaker, clock: FakeClock, down_for: float = 0.0, mono_base: float = 7.0):
    """Simulate a daemon restart: the row survives, the process (and its monotonic base) does not."""
    snapshot = breaker.snapshot()
    new_clock = FakeClock(wall=clock.wall() + down_for, monotonic=mono_base)
    return CircuitBreaker.restore(breaker.spec, snapshot, new_clock), new_clock


def test_snapshot_round_trips_through_restore() -> None:
    breaker, clock = make(consecutive_failures=3, half_open_successes=3)
    trip(breaker)
    clock.advance(30)
    feed_all(breaker, BAD)
    clock.advance(60)
    feed_all(breaker, OK)
    restored, _ = restart(breaker, clock)
    assert restored.snapshot() == breaker.snapshot()
    assert restored.state is S.HALF_OPEN and restored.consecutive_successes == 1


def test_pitfall_recreating_the_breaker_does_not_reset_its_counters() -> None:
    breaker, clock = make(consecutive_failures=3)
    feed_all(breaker, BAD, BAD)
    restored, _ = restart(breaker, clock)
    assert restored.consecutive_failures == 2 and restored.recent == ("refused", "refused")
    assert [t.to_state for t in feed_all(restored, BAD)] == [S.OPEN]


def test_pitfall_repeated_restarts_never_push_the_open_deadline_back() -> None:
    breaker, clock = make(open_for="30s")
    deadline = trip(breaker).open_until_wall
    for _ in range(3):  # a restart every 8 s: a breaker writing its own opened_at would never half-open
        breaker, clock = restart(breaker, clock, down_for=8.0, mono_base=clock.monotonic() * 3 + 1)
        assert breaker.tick() == [] and breaker.open_until == deadline
    clock.advance(deadline - clock.wall() - 0.25)
    assert breaker.tick() == []
    clock.advance(0.25)
    assert [t.to_state for t in breaker.tick()] == [S.HALF_OPEN]


def test_pitfall_deadlines_keep_their_fraction_of_a_second() -> None:
    clock = FakeClock(wall=1_800_000_000.4)
    breaker = CircuitBreaker(BreakerSpec(open_for="30s"), clock)
    deadline = trip(breaker).open_until_wall
    assert deadline % 1 != 0
    restored, new_clock = restart(breaker, clock, down_for=10.0)
    assert restored.open_until == deadline
    new_clock.advance(deadline - new_clock.wall() - 0.01)
    assert restored.tick() == []
    new_clock.advance(0.02)
    assert [t.to_state for t in restored.tick()] == [S.HALF_OPEN]


def test_pitfall_a_restart_never_closes_an_open_breaker_even_after_its_deadline() -> None:
    breaker, clock = make(open_for="30s")
    trip(breaker)
    restored, _ = restart(breaker, clock, down_for=3600)  # down far longer than the open period
    assert restored.state is S.OPEN and restored.allows_check()
    [t] = restored.tick()
    assert (t.to_state, t.reason) == (S.HALF_OPEN, "open period 30s elapsed")
    [t] = feed_all(restored, BAD)
    assert t.to_state is S.OPEN and t.open_until_wall - t.at_wall == 60  # still a re-open


@pytest.mark.parametrize("operator", ["force_open", "disable"])
def test_operator_states_survive_a_restart(operator: str) -> None:
    breaker, clock = make()
    getattr(breaker, operator)()
    restored, _ = restart(breaker, clock, down_for=86_400)
    assert restored.tick() == [] and restored.state is breaker.state


def test_an_open_after_a_restart_starts_from_open_for_whatever_the_stored_close() -> None:
    breaker, clock = make(open_for="30s", reset_after="10m", half_open_successes=1)
    trip(breaker)
    clock.advance(30)
    feed_all(breaker, OK)  # closed at clock.wall()
    restored, _ = restart(breaker, clock, down_for=-120)  # NTP stepped the clock back 2 minutes
    assert restored.tick() == [] and restored.reopen_count == 0
    assert trip(restored).open_until_wall - restored._clock.wall() == 30


def test_a_stored_window_longer_than_the_spec_keeps_its_newest_results() -> None:
    snapshot = BreakerSnapshot(S.CLOSED, 1_800_000_000.0, None, 1, 0, 0, ("ok",) * 5 + ("timeout",), None)
    restored = CircuitBreaker.restore(BreakerSpec(window=3, min_checks=3), snapshot, FakeClock())
    assert restored.recent == ("ok", "ok", "timeout")


def test_an_open_row_without_a_deadline_is_restored_open_for_its_period() -> None:
    snapshot = BreakerSnapshot(S.OPEN, 1_799_999_000.0, None, 3, 0, 1, (), None)
    clock = FakeClock()
    restored = CircuitBreaker.restore(BreakerSpec(open_for="30s"), snapshot, clock)
    assert restored.state is S.OPEN and restored.open_until == clock.wall() + 60


def test_an_unknown_stored_state_is_a_typed_error() -> None:
    snapshot = BreakerSnapshot("ajar", 0.0, None, 0, 0, 0, (), None)  # type: ignore[arg-type]
    with pytest.raises(BreakerSnapshotError, match="ajar"):
        CircuitBreaker.restore(BreakerSpec(), snapshot, FakeClock())


# --- reconfiguration ----------------------------------------------------------------------------------


def test_a_new_spec_keeps_state_counters_and_deadline_and_truncates_the_window() -> None:
    breaker, clock = make(consecutive_failures=5, window=10, min_checks=10)
    feed_all(breaker, OK, OK, OK, BAD, BAD)
    smaller = breaker.with_spec(BreakerSpec(consecutive_failures=3, window=3, min_checks=3, failure_rate=0.9))
    assert smaller.recent == ("ok", "refused", "refused") and smaller.consecutive_failures == 2
    assert [t.reason for t in feed_all(smaller, BAD)] == ["3 consecutive failures (refused)"]
    deadline = smaller.open_until
    longer = smaller.with_spec(BreakerSpec(open_for="5m", max_open_for="1h"))
    assert longer.state is S.OPEN and longer.open_until == deadline
    clock.advance(30)
    assert [t.to_state for t in longer.tick()] == [S.HALF_OPEN]


def test_the_outcome_window_keeps_only_the_newest_like_a_bounded_deque():
    from daemon.engine.breaker import _Window

    w = _Window(3)
    for code in "abcde":
        w.append(code)
    assert list(w) == ["c", "d", "e"]
    w.extend("fghij")
    assert list(w) == ["h", "i", "j"] and w.maxlen == 3
    w.clear()
    w.extend("xy")
    assert list(w) == ["x", "y"]


def test_settled_means_a_healthy_result_changes_nothing_but_the_success_count():
    """Monitor.observe persists such a result with the counters only (issue 11): pin that it is true."""
    b, _ = make(window=4, min_checks=4)
    for _ in range(3):
        b.feed(Status.HEALTHY)
        assert not b.settled()  # the window is not full yet: a result still changes it
    b.feed(Status.HEALTHY)
    assert b.settled()
    before = b.snapshot()
    assert b.feed(Status.HEALTHY) == []
    after = b.snapshot()
    assert after.consecutive_successes == before.consecutive_successes + 1
    assert {**vars_of(after), "consecutive_successes": 0} == {**vars_of(before), "consecutive_successes": 0}


@pytest.mark.parametrize(
    ("last", "error_class"), [(Status.DEGRADED, None), (Status.UNHEALTHY, "refused"), (Status.UNKNOWN, None)]
)
def test_a_slow_or_failed_result_in_the_window_unsettles_the_breaker_until_it_leaves(last, error_class):
    b, _ = make(window=3, min_checks=3, consecutive_failures=5, failure_rate=0.9)
    for _ in range(3):
        b.feed(Status.HEALTHY)
    b.feed(last, error_class)
    assert not b.settled()
    for _ in range(2):
        b.feed(Status.HEALTHY)
        assert not b.settled()  # still in the window
    b.feed(Status.HEALTHY)
    assert b.settled()


def test_only_a_closed_breaker_is_settled():
    b, _ = make(window=2, min_checks=2)
    b.feed(Status.HEALTHY)
    b.feed(Status.HEALTHY)
    b.force_open(reason="test")
    assert not b.settled()
    b.reset()
    assert not b.settled()  # closing starts an empty window: it must fill with plain successes again
    b.feed(Status.HEALTHY)
    b.feed(Status.HEALTHY)
    assert b.settled()


def vars_of(snapshot) -> dict:
    return {f: getattr(snapshot, f) for f in snapshot.__dataclass_fields__}

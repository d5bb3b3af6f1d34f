"""Property tests of the circuit breaker: an independent oracle for the closing rules, bounds on the open
period, and "a restored breaker decides exactly as the original would have" for any continuation.

Time steps are multiples of 0.25 s and durations whole seconds, so every clock sum is exact in floats
and the original and the restored breaker can be compared with `==`.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.clock import FakeClock
from daemon.config.models import Breaker as BreakerSpec
from daemon.engine.breaker import CircuitBreaker, Transition
from daemon.types import BreakerState as S
from daemon.types import Status

SETTINGS = settings(max_examples=200, deadline=None)

statuses = st.sampled_from(list(Status))
error_classes = st.sampled_from([None, "refused", "timeout", "exit_code"])


@st.composite
def specs(draw: st.DrawFn) -> BreakerSpec:
    window = draw(st.integers(1, 12))
    open_for = draw(st.integers(1, 60))
    return BreakerSpec(
        consecutive_failures=draw(st.integers(1, 8)),
        window=window,
        min_checks=draw(st.integers(1, window)),
        failure_rate=draw(st.integers(1, 20)) / 20,
        open_for=f"{open_for}s",
        max_open_for=f"{open_for * draw(st.integers(1, 16))}s",
        half_open_successes=draw(st.integers(1, 4)),
        reset_after=f"{draw(st.integers(1, 600))}s",
    )


quarters = st.integers(1, 4 * 300).map(lambda q: q / 4)
events = st.one_of(
    st.tuples(st.just("feed"), statuses, error_classes),
    st.tuples(st.just("feed"), statuses, error_classes),  # twice: results are the common case
    st.tuples(st.just("advance"), quarters),
    st.tuples(st.just("tick")),
    st.tuples(st.just("force_open"), st.one_of(st.none(), quarters)),
    st.tuples(st.just("disable")),
    st.tuples(st.just("reset")),
)
automatic_events = st.one_of(
    st.tuples(st.just("feed"), statuses, error_classes), st.tuples(st.just("advance"), quarters)
)


def apply(breaker: CircuitBreaker, clock: FakeClock, event: tuple) -> list[Transition]:
    kind, *args = event
    if kind == "feed":
        return breaker.feed(*args)
    if kind == "advance":
        clock.advance(args[0])
        return []
    if kind == "force_open":
        return breaker.force_open(for_=args[0], reason="test")
    return getattr(breaker, kind)()


def observe(breaker: CircuitBreaker) -> tuple:
    return (breaker.state, breaker.allows_check(), breaker.open_remaining(), breaker.snapshot())


@SETTINGS
@given(specs(), st.lists(st.tuples(statuses, error_classes), max_size=40))
def test_closed_breaker_opens_exactly_when_an_independent_oracle_says_so(spec, results) -> None:
    """The oracle recomputes both rules from the raw history, with exact fractions."""
    breaker = CircuitBreaker(spec, FakeClock())
    threshold = Fraction(spec.failure_rate).limit_denominator(20)
    for i, (status, error) in enumerate(results):
        history = [s for s, _ in results[: i + 1]]
        streak = next((n for n, s in enumerate(reversed(history)) if not s.is_failure), len(history))
        window = history[-spec.window :]
        failures = sum(s.is_failure for s in window)
        expect_streak = streak >= spec.consecutive_failures
        expect_rate = len(window) >= spec.min_checks and Fraction(failures, len(window)) >= threshold
        transitions = breaker.feed(status, error)
        if expect_streak or expect_rate:
            [t] = transitions
            assert (t.from_state, t.to_state) == (S.CLOSED, S.OPEN)
            kind = "consecutive failures" if expect_streak else "failure rate"
            assert kind in t.reason
            assert breaker.failure_rate == failures / len(window)
            return
        assert transitions == [] and breaker.state is S.CLOSED


@SETTINGS
@given(specs(), st.lists(automatic_events, max_size=80))
def test_automatic_opens_last_between_open_for_and_max_open_for(spec, stream) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(spec, clock)
    for event in stream:
        for t in apply(breaker, clock, event):
            if t.to_state is S.OPEN:
                period = t.open_until_wall - t.at_wall
                assert spec.open_for.total_seconds() <= period <= spec.max_open_for.total_seconds()
            if t.from_state is S.CLOSED and t.to_state is S.OPEN:
                assert (
                    breaker.consecutive_failures >= spec.consecutive_failures or len(breaker.recent) >= spec.min_checks
                ), "opened on the rate rule with fewer than min_checks results"


@SETTINGS
@given(specs(), st.lists(st.tuples(statuses, error_classes), max_size=10))
def test_half_open_closes_on_the_nth_success_unless_a_failure_comes_first(spec, results) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(spec, clock)
    breaker.force_open(for_=1)
    clock.advance(1)
    assert [t.to_state for t in breaker.tick()] == [S.HALF_OPEN]
    for successes, (status, error) in enumerate(results, start=1):
        transitions = breaker.feed(status, error)
        if status.is_failure:
            assert [t.to_state for t in transitions] == [S.OPEN]
            return
        if successes == spec.half_open_successes:
            assert [t.to_state for t in transitions] == [S.CLOSED]
            return
        assert transitions == []


@SETTINGS
@given(
    specs(),
    st.lists(events, max_size=40),
    st.lists(events, max_size=40),
    st.integers(0, 4 * 3600).map(lambda q: q / 4),
    st.floats(0, 1e6).map(lambda x: round(x * 4) / 4),
)
def test_a_restored_breaker_decides_exactly_as_the_original_would_have(
    spec, prefix, suffix, down_for, mono_base
) -> None:
    clock = FakeClock()
    original = CircuitBreaker(spec, clock)
    for event in prefix:
        apply(original, clock, event)
    snapshot = original.snapshot()
    clock.advance(down_for)  # the original just sat there, as the stored row did
    new_clock = FakeClock(wall=clock.wall(), monotonic=mono_base)
    restored = CircuitBreaker.restore(spec, snapshot, new_clock)
    assert observe(restored) == observe(original)
    for event in suffix:
        assert apply(restored, new_clock, event) == apply(original, clock, event)
        assert observe(restored) == observe(original)


@SETTINGS
@given(specs(), st.integers(0, 8), quarters, st.floats(0, 1e6).map(lambda x: round(x * 4) / 4))
def test_an_open_breaker_stays_open_across_a_restart_until_its_stored_deadline(
    spec, reopens, down_for, mono_base
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(spec, clock)
    breaker.force_open(for_=spec.open_for)
    for _ in range(reopens):  # walk up the doubling so deadlines of every size are covered
        clock.advance(breaker.open_remaining())
        breaker.feed(Status.UNHEALTHY, "refused")
    deadline = breaker.open_until
    new_clock = FakeClock(wall=clock.wall() + down_for, monotonic=mono_base)
    restored = CircuitBreaker.restore(spec, breaker.snapshot(), new_clock)
    restored.tick()
    assert restored.state is (S.OPEN if new_clock.wall() < deadline else S.HALF_OPEN)
    if restored.state is S.OPEN:
        assert restored.open_until == deadline and not restored.allows_check()
        new_clock.advance(deadline - new_clock.wall())
        assert [t.to_state for t in restored.tick()] == [S.HALF_OPEN]
